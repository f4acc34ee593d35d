"""neonize's MessageEv and ReceiptEv as backend events: real protobufs, delivered through a real
neonize client's own entry point (`client.event.execute`, as the Go library calls it), translated
by the handlers wamulti registers. No connect(): nothing here touches a network.
"""

from __future__ import annotations

import ctypes
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from wamulti.backends import backend_api as bk
from wamulti.backends.neonize.incoming import translate_message, translate_receipt
from wamulti.seams.neonize_internals import detach_stop_on_collect

neonize_events = pytest.importorskip("neonize.events")
from neonize.client import NewClient  # noqa: E402
from neonize.proto.Neonize_pb2 import JID, Message, MessageInfo, MessageSource, Receipt  # noqa: E402
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e  # noqa: E402

PHONE = "4915123456789"
ME = "4917000000001"
LID = "123456789012345"
GROUP = "120363025246125486"
SENT_MS = 1764064800123  # 2025-11-25T10:00:00.123Z, milliseconds as neonize encodes Info.Timestamp
SENT_AT = datetime(2025, 11, 25, 10, 0, 0, 123000, tzinfo=timezone.utc)


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A real NewClient, never connected, with handlers that translate what it is fed."""
    path = tmp_path_factory.mktemp("neonize-events") / "events.session"
    client = NewClient(str(path), uuid="neonize-events-test")
    client.translated = []
    client.event(neonize_events.MessageEv)(lambda _c, ev: client.translated.append(translate_message(ev)))
    client.event(neonize_events.ReceiptEv)(lambda _c, ev: client.translated.append(translate_receipt(ev)))
    yield client
    detach_stop_on_collect(client)  # never started: there is no Go entry for GC to stop


def feed(client, event):
    """Serialise the event and hand it to the client's own entry point, as the Go library does."""
    data = event.SerializePartialToString()
    buf = ctypes.create_string_buffer(data, len(data))
    client.event.execute(client.uuid, ctypes.addressof(buf), len(data), neonize_events.EVENT_TO_INT[type(event)])
    assert len(client.translated) == 1, "the handler ran once"
    return client.translated.pop()


def incoming(content: e2e.Message, *, sender: JID | None = None, chat: JID | None = None, alt: JID | None = None,
             group: bool = False, from_me: bool = False, msg_id: str = "3EB0AA11", timestamp: int = SENT_MS) -> Message:
    sender = sender or jid(PHONE, device=3)
    source = MessageSource(Chat=chat or jid(sender.User, sender.Server), Sender=sender, IsFromMe=from_me, IsGroup=group)
    if alt is not None:
        source.SenderAlt.CopyFrom(alt)
    info = MessageInfo(MessageSource=source, ID=msg_id, Pushname="Ana", Timestamp=timestamp, Type="text")
    return Message(Info=info, Message=content)


def expected(**fields) -> bk.MessageReceived:
    base = dict(message_id="3EB0AA11", chat=f"{PHONE}@s.whatsapp.net", sender_jid=f"{PHONE}@s.whatsapp.net",
                sender_phone=PHONE, is_group=False, from_me=False, push_name="Ana", kind="text", text=None,
                sent_at=SENT_AT)
    return bk.MessageReceived(**{**base, **fields})


# ---- messages ----------------------------------------------------------------------------------
def test_plain_text_carries_sender_chat_push_name_and_millisecond_time(client):
    assert feed(client, incoming(e2e.Message(conversation="hallo 👋"))) == expected(text="hallo 👋")


def test_extended_text_carries_the_quoted_message_id(client):
    content = e2e.Message(extendedTextMessage=e2e.ExtendedTextMessage(
        text="yes, that one", contextInfo=e2e.ContextInfo(stanzaID="3EB0QUOTED", participant=f"{ME}@s.whatsapp.net")))
    assert feed(client, incoming(content)) == expected(text="yes, that one", quoted_id="3EB0QUOTED")


def test_image_with_caption_carries_its_metadata_and_quote(client):
    content = e2e.Message(imageMessage=e2e.ImageMessage(
        caption="the view", mimetype="image/jpeg", fileLength=204800, contextInfo=e2e.ContextInfo(stanzaID="Q1")))
    got = feed(client, incoming(content))
    assert replace(got, media=None) == expected(kind="image", text="the view", quoted_id="Q1")
    assert (got.media.mimetype, got.media.size, got.media.file_name, got.media.kind) == ("image/jpeg", 204800, None,
                                                                                         "image")


@pytest.mark.parametrize("field, part, kind, media, text", [
    ("videoMessage", e2e.VideoMessage(mimetype="video/mp4", fileLength=5_000_000, seconds=12, caption="clip"),
     "video", bk.Media("video/mp4", 5_000_000, None), "clip"),
    ("ptvMessage", e2e.VideoMessage(mimetype="video/mp4", fileLength=900_000), "video", bk.Media("video/mp4", 900_000), None),
    ("audioMessage", e2e.AudioMessage(mimetype="audio/ogg; codecs=opus", fileLength=31337, PTT=True, seconds=9),
     "voice", bk.Media("audio/ogg; codecs=opus", 31337, None), None),
    ("audioMessage", e2e.AudioMessage(mimetype="audio/mpeg", fileLength=4096),
     "audio", bk.Media("audio/mpeg", 4096, None), None),
    ("documentMessage", e2e.DocumentMessage(mimetype="application/pdf", fileLength=1234, fileName="invoice.pdf",
                                            caption="November"),
     "document", bk.Media("application/pdf", 1234, "invoice.pdf"), "November"),
    ("stickerMessage", e2e.StickerMessage(mimetype="image/webp", fileLength=20480, isAnimated=True),
     "sticker", bk.Media("image/webp", 20480, None), None),
])
def test_media_kinds_carry_mimetype_size_and_file_name(client, field, part, kind, media, text):
    content = e2e.Message(**{field: part})
    got = feed(client, incoming(content))
    assert replace(got, media=None) == expected(kind=kind, text=text)
    assert replace(got.media, download=None) == replace(media, kind=kind)


def test_a_document_with_caption_inside_its_wrapper_is_a_document(client):
    inner = e2e.Message(documentMessage=e2e.DocumentMessage(mimetype="text/csv", fileName="a.csv", caption="data"))
    content = e2e.Message(documentWithCaptionMessage=e2e.FutureProofMessage(message=inner))
    got = feed(client, incoming(content))
    assert (got.kind, got.text, got.media.mimetype, got.media.file_name) == ("document", "data", "text/csv", "a.csv")


def test_view_once_and_ephemeral_wrappers_are_unwrapped(client):
    image = e2e.Message(imageMessage=e2e.ImageMessage(mimetype="image/png", caption="once"))
    once = e2e.Message(viewOnceMessageV2=e2e.FutureProofMessage(message=image))
    content = e2e.Message(ephemeralMessage=e2e.FutureProofMessage(message=once))
    got = feed(client, incoming(content))
    assert (got.kind, got.text) == ("image", "once")


def test_location_carries_coordinates_and_place_name(client):
    content = e2e.Message(locationMessage=e2e.LocationMessage(
        degreesLatitude=52.520008, degreesLongitude=13.404954, name="Alexanderplatz", address="Berlin"))
    assert feed(client, incoming(content)) == expected(
        kind="location", location=bk.Location(52.520008, 13.404954, "Alexanderplatz"))


def test_live_location_is_a_location_with_its_caption_as_text(client):
    content = e2e.Message(liveLocationMessage=e2e.LiveLocationMessage(
        degreesLatitude=-33.8688, degreesLongitude=151.2093, caption="on my way"))
    assert feed(client, incoming(content)) == expected(
        kind="location", text="on my way", location=bk.Location(-33.8688, 151.2093, None))


def test_contact_carries_display_name_and_vcard(client):
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bo\nTEL;type=CELL;waid=4915111:+49 151 11\nEND:VCARD"
    content = e2e.Message(contactMessage=e2e.ContactMessage(displayName="Bo", vcard=vcard))
    assert feed(client, incoming(content)) == expected(kind="contact", contact=bk.Contact("Bo", vcard))


def test_a_lid_sender_gets_its_phone_number_from_the_alternate_jid(client):
    lid = jid(LID, "lid", device=12)
    got = feed(client, incoming(e2e.Message(conversation="hi"), sender=lid, alt=jid(PHONE, device=12)))
    assert (got.sender_jid, got.chat, got.sender_phone) == (f"{LID}@lid", f"{LID}@lid", PHONE)


def test_a_lid_sender_without_an_alternate_has_no_phone(client):
    got = feed(client, incoming(e2e.Message(conversation="hi"), sender=jid(LID, "lid")))
    assert (got.sender_jid, got.sender_phone) == (f"{LID}@lid", None)


def test_a_group_message_names_the_group_as_chat_and_the_participant_as_sender(client):
    got = feed(client, incoming(e2e.Message(conversation="hi all"), chat=jid(GROUP, "g.us"),
                                sender=jid(LID, "lid", device=2), alt=jid(PHONE), group=True))
    assert got == expected(chat=f"{GROUP}@g.us", sender_jid=f"{LID}@lid", is_group=True, text="hi all")


def test_a_message_sent_from_another_device_of_this_account_is_from_me(client):
    got = feed(client, incoming(e2e.Message(conversation="sent from my phone"), sender=jid(ME, device=0),
                                chat=jid(PHONE), from_me=True))
    assert (got.from_me, got.sender_phone, got.chat) == (True, ME, f"{PHONE}@s.whatsapp.net")


def test_content_of_no_known_kind_is_unknown_without_text(client):
    content = e2e.Message(pollCreationMessage=e2e.PollCreationMessage(name="Lunch?"))
    assert feed(client, incoming(content)) == expected(kind="unknown")


def test_a_timestamp_in_seconds_or_none_at_all_still_gives_an_aware_time(client):
    in_seconds = feed(client, incoming(e2e.Message(conversation="x"), timestamp=SENT_MS // 1000))
    assert in_seconds.sent_at == SENT_AT.replace(microsecond=0)
    before = datetime.now(timezone.utc)
    assert feed(client, incoming(e2e.Message(conversation="x"), timestamp=0)).sent_at >= before


@pytest.mark.parametrize("event", [
    incoming(e2e.Message(protocolMessage=e2e.ProtocolMessage(type=e2e.ProtocolMessage.REVOKE))),
    incoming(e2e.Message(senderKeyDistributionMessage=e2e.SenderKeyDistributionMessage(groupID="g"))),
    incoming(e2e.Message()),
    incoming(e2e.Message(conversation="a status"), chat=JID(User="status", Server="broadcast")),
    incoming(e2e.Message(conversation="no id"), msg_id=""),
    Message(),
], ids=["revoke", "key-share-only", "empty", "status-update", "no-id", "nothing-at-all"])
def test_protocol_traffic_and_unusable_messages_are_not_reported(client, event):
    assert feed(client, event) is None


def test_something_that_is_no_event_at_all_gives_none_instead_of_raising():
    assert translate_message(object()) is None and translate_receipt(None) is None


# ---- receipts -----------------------------------------------------------------------------------
def receipt(kind: int | None, *, ids=("3EB0A", "3EB0B"), from_me=False, timestamp=1764064800) -> Receipt:
    source = MessageSource(Chat=jid(PHONE), Sender=jid(PHONE, device=1), IsFromMe=from_me)
    event = Receipt(MessageSource=source, MessageIDs=list(ids), Timestamp=timestamp)
    if kind is not None:
        event.Type = kind
    return event


@pytest.mark.parametrize("kind, status", [(Receipt.DELIVERED, "delivered"), (Receipt.READ, "read"),
                                          (Receipt.PLAYED, "played")])
def test_delivered_read_and_played_receipts_for_our_messages_are_reported(client, kind, status):
    assert feed(client, receipt(kind)) == bk.ReceiptReceived(
        message_ids=("3EB0A", "3EB0B"), chat=f"{PHONE}@s.whatsapp.net", status=status,
        at=datetime(2025, 11, 25, 10, 0, tzinfo=timezone.utc))


def test_a_group_receipt_names_the_group(client):
    event = receipt(Receipt.READ)
    event.MessageSource.Chat.CopyFrom(jid(GROUP, "g.us"))
    event.MessageSource.IsGroup = True
    assert feed(client, event).chat == f"{GROUP}@g.us"


@pytest.mark.parametrize("kind", [Receipt.SENDER, Receipt.RETRY, Receipt.READ_SELF, Receipt.PLAYED_SELF,
                                  Receipt.SERVER_ERROR, Receipt.INACTIVE, Receipt.PEER_MSG, Receipt.HISTORY_SYNC],
                         ids=lambda k: Receipt.ReceiptType.Name(k))
def test_receipts_that_are_not_about_the_recipient_are_ignored(client, kind):
    assert feed(client, receipt(kind)) is None


def test_a_receipt_without_a_type_is_not_taken_for_delivered(client):
    # neonize leaves Type unset for whatsmeow's "server-error"; proto2 would read it as DELIVERED
    assert feed(client, receipt(None)) is None


def test_receipts_from_our_own_devices_or_without_ids_are_ignored(client):
    assert feed(client, receipt(Receipt.READ, from_me=True)) is None
    assert feed(client, receipt(Receipt.READ, ids=())) is None
