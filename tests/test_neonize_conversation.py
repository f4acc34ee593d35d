"""The neonize backend's conversation, offline: incoming reactions, edits, revokes, presence and call
offers as real protobufs through a real client's own event entry point; and presence, number checks,
contacts, pictures, the own profile and call rejection through a READY worker on a real session and
neonize's real client code, where only the Go functions that would reach WhatsApp's servers are
replaced by a named test double (GoNetworkDouble)."""

from __future__ import annotations

import threading

import pytest

from tests.test_neonize_backend import HeldConnectionBackend, feed, make_whatsmeow_file  # skips offline
from tests.test_neonize_backend import settings, store  # noqa: F401  (fixtures)
from tests.test_neonize_events import PHONE, LID, SENT_AT, incoming, jid
from tests.test_neonize_events import feed as feed_client
from tests.test_neonize_send import WhatsAppDouble
from tests.test_worker_hearing import RecordingSink
from wamulti.backends import backend_api as bk
from wamulti.backends import conversation_api as cv
from wamulti.backends.neonize.incoming import translate_message
from wamulti.backends.neonize.incoming_signals import translate_call, translate_chat_presence, translate_presence
from wamulti.backends.neonize.neonize_backend import NeonizeBackend
from wamulti.clients.calls import CallPolicy
from wamulti.clients.states import CONNECTING, READY
from wamulti.clients.worker import ClientWorker
from wamulti.errors import NoPicture
from wamulti.seams import neonize_internals as seam
from wamulti.sessions import session_file
from wamulti.store.store_api import ClientRecord

from neonize import events as ev  # noqa: E402  (after the skip above)
from neonize.client import NewClient  # noqa: E402
from neonize.proto import Neonize_pb2 as N  # noqa: E402
from neonize.proto.waCommon.WACommon_pb2 import MessageKey  # noqa: E402
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e  # noqa: E402

ME, PEER = "4917000000001", "4915100000002"
PROTO = e2e.ProtocolMessage
KEY = MessageKey(remoteJID=f"{PHONE}@s.whatsapp.net", fromMe=True, ID="3EB0TARGET")


# ---- incoming changes to messages ---------------------------------------------------------------
@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A real NewClient, never connected, whose handlers translate what it is fed (as the session's do)."""
    client = NewClient(str(tmp_path_factory.mktemp("conversation") / "c.session"), uuid="conversation-test")
    client.translated = []
    for event_type, translate in ((ev.MessageEv, translate_message), (ev.PresenceEv, translate_presence),
                                  (ev.ChatPresenceEv, translate_chat_presence), (ev.CallOfferEv, translate_call)):
        client.event(event_type)(lambda _c, e, t=translate: client.translated.append(t(e)))
    yield client
    seam.detach_stop_on_collect(client)


WHO = dict(chat=f"{PHONE}@s.whatsapp.net", sender_jid=f"{PHONE}@s.whatsapp.net", sender_phone=PHONE, from_me=False)


def test_a_reaction_is_its_own_event_and_an_empty_one_takes_it_back(client):
    for emoji in ("👍", ""):
        content = e2e.Message(reactionMessage=e2e.ReactionMessage(key=KEY, text=emoji, senderTimestampMS=1))
        assert feed_client(client, incoming(content)) == cv.MessageReacted(
            message_id="3EB0AA11", emoji=emoji, target_id="3EB0TARGET", target_from_me=True, at=SENT_AT, **WHO)


def test_a_revoke_names_its_target_and_who_revoked(client):
    content = e2e.Message(protocolMessage=PROTO(key=KEY, type=PROTO.REVOKE))
    got = feed_client(client, incoming(content, sender=jid(LID, "lid"), alt=jid(PHONE)))
    assert got == cv.MessageRevoked(target_id="3EB0TARGET", at=SENT_AT, **{
        **WHO, "chat": f"{LID}@lid", "sender_jid": f"{LID}@lid"})


@pytest.mark.parametrize("wrapped", [False, True])
def test_an_edit_carries_the_new_text_bare_or_in_its_edited_message_wrapper(client, wrapped):
    edit = e2e.Message(protocolMessage=PROTO(key=KEY, type=PROTO.MESSAGE_EDIT,
                                             editedMessage=e2e.Message(conversation="fixed typo")))
    content = e2e.Message(editedMessage=e2e.FutureProofMessage(message=edit)) if wrapped else edit
    assert feed_client(client, incoming(content)) == cv.MessageEdited(
        target_id="3EB0TARGET", text="fixed typo", at=SENT_AT, **WHO)


def test_an_edit_made_on_our_own_phone_is_from_me(client):
    content = e2e.Message(protocolMessage=PROTO(key=KEY, type=PROTO.MESSAGE_EDIT, editedMessage=e2e.Message(
        extendedTextMessage=e2e.ExtendedTextMessage(text="new"))))
    got = feed_client(client, incoming(content, from_me=True))
    assert (type(got), got.from_me, got.text) == (cv.MessageEdited, True, "new")


def test_other_protocol_traffic_is_no_event(client):
    content = e2e.Message(protocolMessage=PROTO(key=KEY, type=PROTO.HISTORY_SYNC_NOTIFICATION))
    assert feed_client(client, incoming(content)) is None


# ---- incoming presence and calls -------------------------------------------------------------------
def test_online_and_offline_presence_with_last_seen(client):
    assert feed_client(client, N.Presence(From=jid(PHONE, device=2))) == cv.PresenceSeen(
        f"{PHONE}@s.whatsapp.net", PHONE, "available")
    got = feed_client(client, N.Presence(From=jid(PHONE), Unavailable=True, LastSeen=1764064800))
    assert (got.state, got.last_seen.isoformat()) == ("unavailable", "2025-11-25T10:00:00+00:00")


@pytest.mark.parametrize("state, media, expected", [("COMPOSING", "TEXT", "composing"),
                                                    ("COMPOSING", "AUDIO", "recording"), ("PAUSED", "TEXT", "paused")])
def test_chat_presence_is_typing_recording_or_paused_in_the_chat(client, state, media, expected):
    source = N.MessageSource(Chat=jid(LID, "lid"), Sender=jid(LID, "lid"), SenderAlt=jid(PHONE))
    event = N.ChatPresence(MessageSource=source, State=N.ChatPresence.DESCRIPTOR.fields_by_name["State"]
                           .enum_type.values_by_name[state].number,
                           Media=N.ChatPresence.DESCRIPTOR.fields_by_name["Media"].enum_type.values_by_name[media].number)
    assert feed_client(client, event) == cv.PresenceSeen(f"{LID}@lid", PHONE, expected, chat=f"{LID}@lid")


@pytest.mark.parametrize("video", [False, True])
def test_a_call_offer_names_the_caller_the_call_and_whether_it_is_video(client, video):
    children = [N.Node(Tag="audio"), *([N.Node(Tag="video")] if video else [])]
    meta = N.BasicCallMeta(callCreator=jid(PHONE, device=5), callID="CALL42", timestamp=1764064800)
    getattr(meta, "from").CopyFrom(jid(PHONE, device=5))
    offer = N.CallOffer(basicCallMeta=meta, data=N.Node(Tag="offer", Nodes=children))
    got = feed_client(client, offer)
    assert got == cv.CallOffered("CALL42", f"{PHONE}@s.whatsapp.net", PHONE, video, got.at)
    assert got.at.isoformat() == "2025-11-25T10:00:00+00:00"


# ---- calls out, through the real library's client code --------------------------------------------
class GoNetworkDouble:
    """Test double of the Go functions that would reach WhatsApp's servers: each call is recorded with its
    arguments and answered with real protobufs, as bytes, the way neonize's ctypes hooks hand them over.
    Every other function is the real one (the session's own stop and disconnect)."""

    def __init__(self, library):
        self._library = library
        self.calls: list[tuple[str, tuple]] = []
        self._lock = threading.Lock()

    def __getattr__(self, name):
        answer = getattr(type(self), f"_answer_{name}", None)
        if answer is None:
            return getattr(self._library, name)

        def call(*args):
            with self._lock:
                self.calls.append((name, args))
            return answer(self, *args)
        return call

    def named(self, name):
        return [args for called, args in self.calls if called == name]

    def _answer_IsOnWhatsApp(self, uuid, numbers, size):  # noqa: N802 (Go's names)
        answers = [N.IsOnWhatsAppResponse(Query=n, IsIn=n[1:] == PEER, JID=jid(n[1:]) if n[1:] == PEER else None)
                   for n in numbers.decode().split(" ")]
        return N.IsOnWhatsAppReturnFunction(IsOnWhatsAppResponse=answers).SerializePartialToString()

    def _answer_SendChatPresence(self, uuid, jid_bytes, size, state, media):  # noqa: N802
        return b""

    def _answer_SendPresence(self, uuid, presence):  # noqa: N802
        return b""

    def _answer_GetProfilePicture(self, uuid, jid_bytes, size, extra, extra_size):  # noqa: N802
        if N.JID.FromString(jid_bytes).User == PEER:
            return N.GetProfilePictureReturnFunction(Picture=N.ProfilePictureInfo(
                URL="https://pps.whatsapp.net/v/t61/peer.jpg", ID="1")).SerializePartialToString()
        return N.GetProfilePictureReturnFunction(Error="that user or group does not have a profile picture") \
            .SerializePartialToString()

    def _answer_GetMe(self, uuid):  # noqa: N802
        return N.Device(JID=jid(ME, device=7), PushName="Corner Shop").SerializePartialToString()

    def _answer_GetUserInfo(self, uuid, jids, size):  # noqa: N802
        asked = N.JIDArray.FromString(jids).JIDS[0]
        info = N.GetUserInfoSingleReturnFunction(JID=asked, UserInfo=N.UserInfo(Status="Open 9 to 5"))
        return N.GetUserInfoReturnFunction(UsersInfo=[info]).SerializePartialToString()

    def _answer_GetAllContacts(self, uuid):  # noqa: N802
        contact = N.Contact(JID=jid(PEER), Info=N.ContactInfo(Found=True, FullName="Pia Peer", PushName="Pia"))
        return N.ContactsGetAllContactsReturnFunction(Contact=[contact]).SerializePartialToString()

    def _answer_RejectCall(self, uuid, jid_bytes, size, call_id):  # noqa: N802
        return b""


@pytest.fixture
def ready(store, settings):
    """A READY worker (REJECT_CALLS on, with a reply) over a real session with the double in front of Go."""
    real = NeonizeBackend(settings)
    make_whatsmeow_file(real, settings.data_dir / "source.session")
    real.close()
    backend = HeldConnectionBackend(settings, sync_fallback=5)
    record = store.create_client(ClientRecord("w1", CONNECTING, jid=f"{ME}@s.whatsapp.net"))
    sink = RecordingSink()
    from tests.fake_backend import FakePrompter

    worker = ClientWorker(record, backend=backend, store=store, prompter=FakePrompter(), data_dir=settings.data_dir,
                          pairing_timeout=30, snapshot_interval=0.2, events=sink,
                          calls=CallPolicy(reject=True, message="Please write instead."))
    snap = session_file.read_snapshot(settings.data_dir / "source.session")
    store.save_snapshot("w1", snap.data, snap.sha256)
    worker.start()
    session = backend.wait_session(1)
    double = GoNetworkDouble(seam.go_library(session.client))
    seam.replace_go_library(session.client, double)
    seam.replace_contact_library(session.client, double)
    texts = WhatsAppDouble({})  # the reply's send: the named double of test_neonize_send
    session.client.send_message = texts.send_message
    feed(session, ev.ConnectedEv(status=True))
    feed(session, ev.OfflineSyncCompletedEv(Count=0))
    assert worker.wait_for_state({READY}, 5)
    yield worker, session, double, texts, sink
    worker.stop()
    worker.join(10)
    backend.close()


def test_presence_goes_out_as_neonize_encodes_it(ready):
    worker, _, double, _, _ = ready
    worker.lookups.presence("recording", f"{PEER}@s.whatsapp.net")
    worker.lookups.presence("paused", "123456789012345@lid")
    worker.lookups.presence("unavailable", None)
    (_, first, _, state, media), (_, second, _, paused, _) = double.named("SendChatPresence")
    assert (N.JID.FromString(first).User, state, media) == (PEER, 0, 1), "COMPOSING with AUDIO"
    assert (N.JID.FromString(second).Server, paused) == ("lid", 1)
    [(_, presence)] = double.named("SendPresence")
    assert presence == b"unavailable"


def test_numbers_are_checked_in_one_query_and_remembered_for_sends(ready):
    worker, _, double, texts, _ = ready
    results = worker.lookups.check([f"+{PEER}", "+4915100000000", "not a number"])
    assert [(r.on_whatsapp, r.jid) for r in results] == [(True, f"{PEER}@s.whatsapp.net"), (False, None), (None, None)]
    assert [args[1] for args in double.named("IsOnWhatsApp")] == [f"+{PEER} +4915100000000".encode()], "one query"
    worker.submit(f"+{PEER}", "hi", wait=5)
    assert len(double.named("IsOnWhatsApp")) == 1, "the send used the check's answer"
    assert (texts.sent[0][0].User, texts.sent[0][1].conversation) == (PEER, "hi")


def test_contacts_picture_and_profile_come_from_the_real_client_code(ready):
    worker, _, double, _, _ = ready
    assert worker.lookups.contacts() == [cv.KnownContact(f"{PEER}@s.whatsapp.net", PEER, "Pia Peer", "Pia")]
    assert worker.lookups.picture(f"{PEER}@s.whatsapp.net") == "https://pps.whatsapp.net/v/t61/peer.jpg"
    with pytest.raises(NoPicture):
        worker.lookups.picture("120363012345678901@g.us")
    assert worker.lookups.profile() == cv.Profile(f"{ME}@s.whatsapp.net", "Corner Shop", "Open 9 to 5")
    [(_, asked, _)] = double.named("GetUserInfo")
    assert N.JIDArray.FromString(asked).JIDS[0].Device == 0, "the account's info, not one device's"


def test_a_call_is_published_rejected_through_the_library_and_answered_in_text(ready):
    worker, session, double, texts, sink = ready
    meta = N.BasicCallMeta(callCreator=jid(PEER), callID="CALL7", timestamp=1764064800)
    getattr(meta, "from").CopyFrom(jid(PEER, device=3))
    feed(session, N.CallOffer(basicCallMeta=meta, data=N.Node(Tag="offer")))
    [call] = sink.of_type("call")
    assert (call["callId"], call["fromJid"], call["video"]) == ("CALL7", f"{PEER}@s.whatsapp.net", False)
    deadline = threading.Event()
    for _ in range(100):
        if texts.sent:
            break
        deadline.wait(0.05)
    [(_, who, _, call_id)] = double.named("RejectCall")
    assert (N.JID.FromString(who).User, call_id.value) == (PEER, b"CALL7")
    assert (texts.sent[0][0].User, texts.sent[0][1].conversation) == (PEER, "Please write instead.")


def test_after_stop_the_entry_calls_are_refused_not_sent_to_go(ready):
    worker, session, double, _, _ = ready
    session.stop()
    with pytest.raises(bk.NotConnected):
        session.contacts()
    with pytest.raises(bk.NotConnected):
        session.profile()
    assert not double.named("GetAllContacts") and not double.named("GetMe")
