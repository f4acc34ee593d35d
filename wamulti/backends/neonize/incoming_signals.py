"""neonize's PresenceEv, ChatPresenceEv and CallOfferEv protobufs as backend events (pure functions).

Read from neonize 0.5.2's Neonize.proto:
- `Presence {From, Unavailable, LastSeen}`: a contact went online / offline (LastSeen in Unix seconds,
  0 when hidden). WhatsApp sends these only for contacts the session subscribed to.
- `ChatPresence {MessageSource, State: COMPOSING|PAUSED, Media: TEXT|AUDIO}`: typing (COMPOSING/TEXT),
  recording a voice note (COMPOSING/AUDIO) or stopped (PAUSED) in a chat.
- `CallOffer {basicCallMeta {from, timestamp, callCreator, callCreatorAlt, callID}, data: Node}`: the
  offer stanza; a video call has a `<video>` child in it. whatsmeow's RejectCall takes `from`.
Nothing raises into Go's callback: an unreadable event becomes None.
"""

from __future__ import annotations

import logging

from .. import conversation_api as cv
from .incoming import _phone, _utc, jid_string

log = logging.getLogger(__name__)


def _presence(ev) -> cv.PresenceSeen | None:
    jid = jid_string(ev.From)
    if not jid:
        return None
    last_seen = _utc(ev.LastSeen) if ev.LastSeen > 0 else None
    return cv.PresenceSeen(jid, _phone(ev.From), "unavailable" if ev.Unavailable else "available",
                           last_seen=last_seen)


def _chat_presence(ev) -> cv.PresenceSeen | None:
    src = ev.MessageSource
    jid, chat = jid_string(src.Sender) or jid_string(src.Chat), jid_string(src.Chat)
    if not jid or src.IsFromMe:
        return None
    names = ev.DESCRIPTOR.fields_by_name
    state = names["State"].enum_type.values_by_number[ev.State].name
    media = names["Media"].enum_type.values_by_number[ev.Media].name
    if state == "PAUSED":
        kind = "paused"
    else:
        kind = "recording" if media == "AUDIO" else "composing"
    return cv.PresenceSeen(jid, _phone(src.Sender) or _phone(src.SenderAlt), kind, chat=chat)


def _has_video(node) -> bool:
    return any(child.Tag == "video" for child in node.Nodes)


def _call(ev) -> cv.CallOffered | None:
    meta = ev.basicCallMeta
    caller = jid_string(getattr(meta, "from"))  # `from` is a Python keyword
    if not caller or not meta.callID:
        return None
    phone = _phone(getattr(meta, "from")) or _phone(meta.callCreator) or _phone(meta.callCreatorAlt)
    return cv.CallOffered(meta.callID, caller, phone, _has_video(ev.data), _utc(meta.timestamp))


def _safely(translate, what: str):
    def run(ev):
        try:
            return translate(ev)
        except Exception:  # never into Go's callback
            log.debug("unreadable %s", what, exc_info=True)
            return None
    return run


translate_presence = _safely(_presence, "presence")
translate_chat_presence = _safely(_chat_presence, "chat presence")
translate_call = _safely(_call, "call offer")
