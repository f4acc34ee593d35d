"""Hearing: what a client hears becomes events (incoming messages, receipts, its own state changes,
and, through conversation_events.py, reactions, edits, revokes, presence and calls).

Messages and receipts are published on the backend's own thread, before its handler returns to the
library, so an event is in the store before the library acknowledges the message to WhatsApp (a
crash in between means WhatsApp sends it again, never that it is lost).

Acks come in order per message: `server` (the send returned) before `delivered` and `read`. A
receipt can overtake the send's return (it arrives on another thread), so while sends are under
way, receipts for ids not yet acked by the server wait until the send that owns them returns, at
most until no send is under way or HELD_RECEIPT_SECONDS passed. Each (message, status) is
published once: in a group every participant's receipt arrives separately.

A message's attachment gets its media record first (hearing/media_intake.py); its download starts
once the `message` event is out, on the media pool, and its outcome is a `message.media` event.

An ack's `id` is WhatsApp's message id and `messageId` wamulti's id of the send that produced it
(the Sender's, told by send_ended); they differ when the library picks WhatsApp's id itself.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from ..backends.backend_api import Event, MessageReceived, ReceiptReceived, SentMessage
from ..backends.group_api import GroupEvent
from ..backends.conversation_api import CallOffered
from ..errors import NotFound
from .conversation_events import conversation_event
from .event_model import EventType, iso_ms
from .media_intake import MediaIntake, SessionOf, media_json, no_download
from .recent_authors import RecentAuthors

HELD_RECEIPT_SECONDS = 30.0
REMEMBERED_ACKS = 4096  # (message, status) pairs remembered per client to publish each once


class EventSink(Protocol):
    """What workers need of the event log: publish one event (stored before it returns), and forget a
    deleted client's held events."""

    def publish(self, client_id: str, type: EventType, data: dict[str, Any]) -> object: ...

    def forget_client(self, client_id: str) -> None: ...

    def client_created(self, client_id: str) -> None: ...


class GroupListener(Protocol):
    """Who keeps a client's groups (wamulti/groups/): applies a group event first and says what to
    publish about it; hears every state change too (READY loads the groups)."""

    def heard(self, event: GroupEvent) -> list[tuple[EventType, dict[str, Any]]]: ...

    def state_changed(self, state: str) -> None: ...


class NoEvents:
    """The sink when the service runs without an event log (unit tests, benchmarks)."""

    def publish(self, client_id: str, type: EventType, data: dict[str, Any]) -> None:
        return None

    def forget_client(self, client_id: str) -> None:
        return None

    def client_created(self, client_id: str) -> None:
        return None


@dataclass(frozen=True)
class _Held:
    receipt: ReceiptReceived
    since: float


class Hearing:
    """One client's events; any thread may call it (backend threads, send threads, the worker)."""

    def __init__(self, client_id: str, sink: EventSink, clock=time.monotonic, *, groups: GroupListener | None = None,
                 media: MediaIntake | None = None, session_of: SessionOf = lambda: None):
        """groups: the client's group cache, told each group event first; media: where incoming
        attachments are downloaded (None: not at all); session_of: the client's open session at the
        moment a download starts."""
        self._client_id = client_id
        self._sink = sink
        self._groups = groups
        self._clock = clock
        self._media, self._session_of = media, session_of
        # Every publish happens under it: that orders the acks, and lets mute() wait for the last one.
        self._lock = threading.Lock()
        self._sends_under_way = 0
        self._held: list[_Held] = []
        self._published: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()
        # WhatsApp's id -> wamulti's id of the same send (they differ when the library picks the id)
        self._our_ids: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._muted = False  # a deleted client publishes nothing more: its events went with its rows
        self.authors = RecentAuthors()  # who wrote what it heard: actions in groups name the author

    def mute(self) -> None:
        """Before a delete: nothing this client hears from now on is published."""
        with self._lock:
            self._muted = True

    def unmute(self) -> None:
        """The delete failed and changed nothing."""
        with self._lock:
            self._muted = False

    def heard(self, event: Event) -> bool:
        """Publish a message, receipt, reaction, edit, revoke, presence or call; False for every other
        backend event (the worker's), and for a call, which the worker may reject after it was published."""
        if (found := conversation_event(event)) is not None:
            with self._lock:
                self._publish(*found)
            return not isinstance(event, CallOffered)
        match event:
            case MessageReceived():
                self.authors.note(event)
                media, start_download = self._take_media(event)
                with self._lock:
                    self._publish(EventType.MESSAGE, message_data(event, media))
                start_download()  # after the message's event: its outcome's event comes later
            case ReceiptReceived():
                with self._lock:
                    self._receipt(event)
            case GroupEvent() if self._groups is not None:
                told = self._groups.heard(event)  # the cache first: a caller told of it reads it fresh
                with self._lock:
                    for type, data in told:
                        self._publish(type, data)
            case _:
                return False
        return True

    def _take_media(self, message: MessageReceived):
        if message.media is None or self._media is None or self._muted:  # a deleted client's: no download
            return None, no_download  # without a media store, message_data says `skipped`
        return self._media.take(self._client_id, message, self._session_of, self._media_ended)

    def _media_ended(self, data: dict[str, Any]) -> None:
        """A download's outcome (a pool thread): `message.media`, unless the client was deleted."""
        with self._lock:
            self._publish(EventType.MESSAGE_MEDIA, data)

    def retry_media(self, media_id: str) -> dict[str, Any]:
        """Download an incoming media of this client again (NotFound when there is no media store)."""
        if self._media is None:
            raise NotFound(f"No media with id '{media_id}'.")
        return self._media.retry(media_id, self._session_of, self._media_ended)

    def state_changed(self, previous: str, state: str, last_error: str | None) -> None:
        data = {"state": str(state), "previous": str(previous), "lastError": last_error}
        with self._lock:
            self._publish(EventType.CLIENT_STATE, data)
        if self._groups is not None:
            self._groups.state_changed(str(state))

    def send_started(self) -> None:
        with self._lock:
            self._sends_under_way += 1

    def send_ended(self, chat: str, sent: SentMessage | None, message_id: str | None = None,
                   failure: str | None = None) -> None:
        """After a send: its `server` ack (if it went out), then the receipts that waited for it.

        `message_id` is wamulti's id of the send: from now on acks for WhatsApp's id carry it too.
        `failure` (a send that failed after its caller stopped waiting) publishes a `failed` ack."""
        with self._lock:
            self._sends_under_way -= 1
            if sent is not None:
                if message_id is not None:
                    self._our_ids[sent.message_id] = message_id
                    while len(self._our_ids) > REMEMBERED_ACKS:
                        self._our_ids.popitem(last=False)
                self._ack(sent.message_id, chat, "server", sent.timestamp)
            elif failure is not None and message_id is not None:
                self._publish(EventType.MESSAGE_ACK, {"id": None, "messageId": message_id, "chat": chat,
                                                      "status": "failed", "at": iso_ms(datetime.now(timezone.utc)),
                                                      "reason": failure})
            self._release_held()

    def send_failed(self, chat: str, message_id: str, reason: str) -> None:
        """A queued send that will never go out (expired, or its outcome lost with a killed process)."""
        with self._lock:
            self._publish(EventType.MESSAGE_ACK, {"id": None, "messageId": message_id, "chat": chat,
                                                  "status": "failed", "at": iso_ms(datetime.now(timezone.utc)),
                                                  "reason": reason})

    # ---- under self._lock --------------------------------------------------------------------
    def _publish(self, type: EventType, data: dict[str, Any]) -> None:
        if not self._muted:  # mute() waits for this under the lock, so no event outlives a delete
            self._sink.publish(self._client_id, type, data)

    def _receipt(self, receipt: ReceiptReceived) -> None:
        waiting = [i for i in receipt.message_ids if (i, "server") not in self._published]
        if waiting and self._sends_under_way:
            self._held.append(_Held(receipt, self._clock()))
            return
        for message_id in receipt.message_ids:
            self._ack(message_id, receipt.chat, receipt.status, receipt.at)

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for item in held:
            overdue = self._clock() - item.since >= HELD_RECEIPT_SECONDS
            if overdue or not self._sends_under_way:
                for message_id in item.receipt.message_ids:
                    self._ack(message_id, item.receipt.chat, item.receipt.status, item.receipt.at)
            else:
                self._receipt(item.receipt)

    def _ack(self, message_id: str, chat: str, status: str, at: datetime) -> None:
        key = (message_id, status)
        if key in self._published:
            return
        self._published[key] = None
        if len(self._published) > REMEMBERED_ACKS:
            self._published.popitem(last=False)
        self._publish(EventType.MESSAGE_ACK, {"id": message_id, "messageId": self._our_ids.get(message_id),
                                              "chat": chat, "status": status, "at": iso_ms(at)})


def message_data(message: MessageReceived, media: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of a `message` event (docs/events.md); `media` as MediaIntake.take made it."""
    reaction, location, contact = message.reaction, message.location, message.contact
    if media is None and message.media is not None:
        media = media_json(message.media.kind or message.kind, None, message.media, status="skipped",
                           reason="no media store")
    return {
        "id": message.message_id,
        "chat": message.chat,
        "from": message.sender_phone,
        "fromJid": message.sender_jid,
        "isGroup": message.is_group,
        "fromMe": message.from_me,
        "pushName": message.push_name,
        "kind": message.kind,
        "text": message.text,
        "quotedId": message.quoted_id,
        "reaction": reaction and {"emoji": reaction.emoji, "targetId": reaction.target_id},
        "location": location and {"lat": location.lat, "lng": location.lng, "name": location.name},
        "media": media,
        "contact": contact and {"displayName": contact.display_name, "vcard": contact.vcard},
        "sentAt": iso_ms(message.sent_at.astimezone(timezone.utc)),
    }
