"""neonize's incoming MessageEv and ReceiptEv protobufs as backend events: pure functions.

Facts about neonize 0.5.2 (its Go encoder, goneonize/utils/encoder.go, confirmed by the library's
own Python use of the fields):
- `Message.Info.Timestamp` is Unix milliseconds (UnixMilli); `Receipt.Timestamp` is Unix seconds.
  Both are read by magnitude, so either unit works; 0 or nonsense becomes the arrival time.
- `Receipt.Type` is an enum filled from whatsmeow's receipt type string: "" DELIVERED, "sender"
  SENDER, "retry" RETRY, "read" READ, "read-self" READ_SELF, "played" PLAYED, "played-self"
  SERVER_ERROR (sic), "inactive" INACTIVE, "peer_msg" PEER_MSG, "hist_sync" HISTORY_SYNC; and
  "server-error" has no case, so Type arrives unset, which proto2 reads as DELIVERED: presence is
  checked before the value.
- `Message.Message` is already unwrapped by whatsmeow (ephemeral, view-once, device-sent,
  document-with-caption); unwrapping again costs nothing and covers older senders.

No neonize import here: every name is read from the event objects themselves, so importing this
module stays cheap. Nothing raises: an odd event becomes None or kind "unknown".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from .. import backend_api as bk
from .incoming_changes import translate_change

log = logging.getLogger(__name__)

PHONE_SERVER = "s.whatsapp.net"
STATUS_CHAT = "status@broadcast"  # status updates: not chat messages, left out
MS_THRESHOLD = 10**11  # larger values are milliseconds (10**11 s is the year 5138)
# whatsmeow's own wrappers around the content; each holds the real message in `.message`
WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension",
            "documentWithCaptionMessage", "lottieStickerMessage", "deviceSentMessage")
# revokes and edits (incoming_changes.py), key shares, history-sync notices: not messages
PROTOCOL = {"protocolMessage", "editedMessage"}
# fields that ride along with content but are no content of their own (key shares, metadata)
NOISE = {"senderKeyDistributionMessage", "fastRatchetKeySenderKeyDistributionMessage", "messageContextInfo"}
# Only what the recipient reports about OUR messages is a receipt. Left out: SENDER (our other
# devices got our own message), READ_SELF / PLAYED_SELF (we read or played something on another
# device; neonize sends the latter as SERVER_ERROR), RETRY (a decryption retry request, handled
# by whatsmeow), SERVER_ERROR, INACTIVE, PEER_MSG and HISTORY_SYNC (protocol traffic).
RECEIPT_STATUS = {"DELIVERED": "delivered", "READ": "read", "PLAYED": "played"}


def jid_string(jid) -> str:
    """'user@server' without agent or device suffix; '' for an empty JID."""
    if not jid.Server:
        return ""
    return f"{jid.User}@{jid.Server}" if jid.User else jid.Server


def _phone(jid) -> str | None:
    user = jid.User
    return user if jid.Server == PHONE_SERVER and user.isascii() and user.isdigit() else None


def _utc(value: int) -> datetime:
    """A Unix time in seconds or milliseconds as aware UTC; the current time when unusable."""
    if value > 0:
        try:
            if value > MS_THRESHOLD:  # whole milliseconds, kept exact (no float division)
                return datetime.fromtimestamp(value // 1000, timezone.utc) + timedelta(milliseconds=value % 1000)
            return datetime.fromtimestamp(value, timezone.utc)
        except (OverflowError, OSError, ValueError):
            pass
    return datetime.now(timezone.utc)


def _unwrap(msg):
    for _ in range(len(WRAPPERS)):  # bounded: a wrapper never holds itself forever
        inner = next((getattr(msg, name).message for name in WRAPPERS
                      if msg.HasField(name) and getattr(msg, name).HasField("message")), None)
        if inner is None:
            return msg
        msg = inner
    return msg


def _or_none(value):
    return value if value else None


def _quoted(part) -> str | None:
    if "contextInfo" in part.DESCRIPTOR.fields_by_name and part.HasField("contextInfo"):
        return _or_none(part.contextInfo.stanzaID)
    return None


def _text(msg, field):
    return {"kind": "text", "text": _or_none(msg.conversation)} if field == "conversation" else {
        "kind": "text", "text": _or_none(msg.extendedTextMessage.text), "quoted_id": _quoted(msg.extendedTextMessage)}


# what a download needs of a media part and nothing more (no thumbnail, no quote)
REF_DROPPED = ("JPEGThumbnail", "pngThumbnail", "contextInfo", "caption", "interactiveAnnotations", "annotations")
REF_FIELD = {"ptvMessage": "videoMessage"}  # whatsmeow downloads a round video as the video it is


def download_ref(msg, field: str) -> bytes:
    """`Media.download`: a Message holding this media part alone, serialized (the field name travels
    with it, so media_download.py hands it back to the library as the message it came in)."""
    ref = type(msg)()
    part = getattr(ref, REF_FIELD.get(field, field))
    part.CopyFrom(getattr(msg, field))
    names = part.DESCRIPTOR.fields_by_name
    for name in REF_DROPPED:
        if name in names:
            part.ClearField(name)
    return ref.SerializeToString()


def _media(kind: str):
    def read(msg, field):
        part = getattr(msg, field)
        names = part.DESCRIPTOR.fields_by_name
        caption = part.caption if "caption" in names else ""
        file_name = part.fileName if "fileName" in names else ""
        voice = kind == "audio" and "PTT" in names and part.PTT
        media = bk.Media(_or_none(part.mimetype), _or_none(part.fileLength), _or_none(file_name),
                         kind="voice" if voice else kind, download=download_ref(msg, field),
                         sha256=_or_none(part.fileSHA256.hex()))
        return {"kind": media.kind, "text": _or_none(caption), "media": media, "quoted_id": _quoted(part)}
    return read


def _location(msg, field):
    part = getattr(msg, field)
    live = field == "liveLocationMessage"  # a live location has a caption instead of a place name
    location = bk.Location(part.degreesLatitude, part.degreesLongitude, None if live else _or_none(part.name))
    return {"kind": "location", "location": location, "text": _or_none(part.caption) if live else None,
            "quoted_id": _quoted(part)}


def _contact(msg, field):
    part = msg.contactMessage if field == "contactMessage" else msg.contactsArrayMessage
    first = part if field == "contactMessage" else (part.contacts[0] if part.contacts else None)
    contact = bk.Contact(_or_none(part.displayName), _or_none(first.vcard) if first is not None else None)
    return {"kind": "contact", "contact": contact, "quoted_id": _quoted(part)}


def _reaction(msg, _field):
    part = msg.reactionMessage
    return {"kind": "reaction", "reaction": bk.Reaction(part.text, part.key.ID)}


# first match wins; a message carries one content field, these are only tried in a fixed order
KINDS = (("reactionMessage", _reaction), ("conversation", _text), ("extendedTextMessage", _text),
         ("imageMessage", _media("image")), ("videoMessage", _media("video")), ("ptvMessage", _media("video")),
         ("audioMessage", _media("audio")), ("documentMessage", _media("document")),
         ("stickerMessage", _media("sticker")), ("locationMessage", _location),
         ("liveLocationMessage", _location), ("contactMessage", _contact), ("contactsArrayMessage", _contact))


def _content(msg) -> dict | None:
    """The kind-specific fields of MessageReceived; None for protocol traffic and empty messages."""
    present = {field.name for field, _ in msg.ListFields()}
    if present & PROTOCOL or not present - NOISE:
        return None
    for field, read in KINDS:
        if field in present:
            return read(msg, field)
    return {"kind": "unknown"}


def _message(ev) -> bk.Event | None:
    info, src = ev.Info, ev.Info.MessageSource
    chat = jid_string(src.Chat)
    if not info.ID or not chat or chat == STATUS_CHAT:
        return None
    msg = _unwrap(ev.Message)
    who = {"message_id": info.ID, "chat": chat, "sender_jid": jid_string(src.Sender),
           "sender_phone": _phone(src.Sender) or _phone(src.SenderAlt), "from_me": src.IsFromMe}
    change = translate_change(msg, who, _utc(info.Timestamp))  # a reaction, edit or revoke
    if change is not None:
        return change
    content = _content(msg)
    if content is None:
        return None
    content.setdefault("text", None)
    return bk.MessageReceived(
        message_id=info.ID, chat=chat, sender_jid=jid_string(src.Sender),
        sender_phone=_phone(src.Sender) or _phone(src.SenderAlt), is_group=src.IsGroup,
        from_me=src.IsFromMe, push_name=_or_none(info.Pushname), sent_at=_utc(info.Timestamp), **content)


def translate_message(ev) -> bk.Event | None:
    """neonize's MessageEv (neonize.proto.Neonize_pb2.Message) as MessageReceived, or as MessageReacted /
    MessageEdited / MessageRevoked for a change to a message (incoming_changes.py), or None."""
    try:
        return _message(ev)
    except Exception:  # never into Go's callback: a message we cannot read is skipped
        log.debug("unreadable incoming message", exc_info=True)
        return None


def _receipt(ev) -> bk.ReceiptReceived | None:
    if not ev.HasField("Type"):
        return None  # "server-error" arrives without a type (see the module's docstring)
    name = ev.DESCRIPTOR.fields_by_name["Type"].enum_type.values_by_number[ev.Type].name
    status = RECEIPT_STATUS.get(name)
    src = ev.MessageSource
    ids = tuple(i for i in ev.MessageIDs if i)
    chat = jid_string(src.Chat)
    # IsFromMe: sent by one of our own devices, about messages we received, not ones we sent
    if status is None or src.IsFromMe or not ids or not chat:
        return None
    return bk.ReceiptReceived(message_ids=ids, chat=chat, status=status, at=_utc(ev.Timestamp))


def translate_receipt(ev) -> bk.ReceiptReceived | None:
    """neonize's ReceiptEv (neonize.proto.Neonize_pb2.Receipt) as ReceiptReceived, or None."""
    try:
        return _receipt(ev)
    except Exception:  # an unknown enum number or a malformed event: not a receipt we can report
        log.debug("unreadable receipt", exc_info=True)
        return None
