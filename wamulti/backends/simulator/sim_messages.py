"""What a simulated send looks like at the recipient: an Outgoing made into B's MessageReceived."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..backend_api import (ContactOut, Contact, Location, LocationOut, Media, MediaOut, MessageReceived, Outgoing,
                           TextOut)


@dataclass(frozen=True)
class Origin:
    """Who sends: the sender's number, JID and name."""

    number: str | None  # the sender's phone digits, None when the recipient sees only its LID
    jid: str
    push_name: str


def received(origin: Origin, outgoing: Outgoing, message_id: str, sent_at: datetime) -> MessageReceived:
    """The MessageReceived the recipient gets for `outgoing` (a 1:1 chat: the chat is the sender)."""
    quoted = outgoing.reply_to.message_id if outgoing.reply_to else None
    base = dict(message_id=message_id, chat=origin.jid, sender_jid=origin.jid, sender_phone=origin.number,
                is_group=False, from_me=False, push_name=origin.push_name, sent_at=sent_at, quoted_id=quoted)
    match outgoing:
        case TextOut(text=text):
            return MessageReceived(kind="text", text=text, **base)
        case LocationOut(lat=lat, lng=lng, name=name, address=address):
            return MessageReceived(kind="location", text=None, location=Location(lat, lng, name, address), **base)
        case ContactOut(display_name=name, vcard=vcard):
            return MessageReceived(kind="contact", text=None, contact=Contact(name, vcard), **base)
        case MediaOut():
            return MessageReceived(kind=outgoing.kind, text=outgoing.caption,
                                   media=media_of(outgoing), **base)
    raise TypeError(f"not an Outgoing: {type(outgoing).__name__}")


def media_of(out: MediaOut) -> Media:
    """The recipient's Media: its download is the CDN key (the simulated upload's direct path)."""
    return Media(mimetype=out.mimetype, size=out.upload.file_length, file_name=out.file_name, kind=out.kind,
                 download=out.upload.direct_path.encode("ascii"), sha256=out.upload.file_sha256.hex())
