"""EventService: the events part of the server, built once from the settings and a store.

server.py makes one, start()s it after the store is open and stop()s it before the store closes;
web/app.py hands it to the routes (they use the EventsPort methods below); the worker publishes
through `service.log.publish(client_id, type, data)`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..destinations.policy import DestinationPolicy
from ..errors import Conflict, NotFound
from ..store.event_rows import EventRow
from .delivery import Delivery
from .event_fields import new_secret
from .event_log import EventLog
from .event_model import DeliveryState, Event, EventStatus, EventType
from .retry import RetryPolicy
from .watchdog import Watchdog
from .webhook_directory import CACHE_SECONDS, WebhookConfig, WebhookDirectory
from .webhook_post import TIMEOUT, WebhookSender


@dataclass(frozen=True)
class EventPage:
    """One page of GET /api/events; `next` is the cursor for the following page (None: no more)."""

    events: list[EventStatus]
    next: str | None


def status_of(row: EventRow) -> EventStatus:
    """The API's view of a stored event."""
    delivery = DeliveryState(row.delivery)
    return EventStatus(Event.from_json(json.loads(row.body)), delivery, row.attempts, row.last_status,
                       row.last_error, row.next_at if delivery == DeliveryState.PENDING else None)


def global_webhook(settings) -> WebhookConfig | None:
    """The webhook from WEBHOOK_URL / WEBHOOK_SECRET / WEBHOOK_EVENTS, if one is set."""
    if not settings.webhook_url:
        return None
    names = settings.webhook_events
    events = None if "*" in names else frozenset(EventType(n) for n in names)
    return WebhookConfig(settings.webhook_url, settings.webhook_secret, events)


class EventService:
    """Publishing (log), webhook configuration (directory) and delivery, started and stopped together."""

    def __init__(self, store, *, global_hook: WebhookConfig | None = None, policy: RetryPolicy | None = None,
                 send_timeout: float = TIMEOUT, cache_seconds: float = CACHE_SECONDS,
                 destinations: DestinationPolicy | None = None, **delivery_options):
        """destinations: where per-client webhooks may point (default: global addresses only);
        delivery_options: threads, lease_seconds, poll_seconds, burst, retention_hours (see Delivery)."""
        self._store = store
        self.destinations = destinations or DestinationPolicy()
        self.watchdog = Watchdog()
        self.directory = WebhookDirectory(store, global_hook, cache_seconds)
        sender = WebhookSender(send_timeout, self.watchdog, destinations=self.destinations)
        self.delivery = Delivery(store, self.directory, sender, policy or RetryPolicy(),
                                 on_stop=self.watchdog.cut_all, **delivery_options)
        self.log = EventLog(store, self.directory, notify=self.delivery.offer)

    @classmethod
    def from_settings(cls, settings, store, **options) -> "EventService":
        destinations = DestinationPolicy(settings.webhook_allow_networks)
        return cls(store, global_hook=global_webhook(settings), retention_hours=settings.event_retention_hours,
                   destinations=destinations, **options)

    def start(self) -> None:
        """Read every stored webhook (the clients' first events need no lookup each); start the
        watchdog, backlog and delivery threads."""
        self.directory.preload()
        self.watchdog.start()
        self.log.start()
        self.delivery.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop delivery (posts in flight stay pending), write what the backlog holds if the store answers."""
        self.delivery.stop(timeout)
        self.log.close(timeout)
        self.watchdog.stop()

    def backlog(self) -> dict:
        """For the metrics: events held in memory (store unreachable), clients with pending deliveries."""
        return {"held": self.log.held(), "pending_clients": len(self._store.pending_heads())}

    def publish(self, client_id: str, type: EventType | str, data: dict) -> Event:
        """Shorthand for log.publish."""
        return self.log.publish(client_id, type, data)

    def forget_client(self, client_id: str) -> None:
        """After the store deleted a client: drop its held events and cached webhook."""
        self.log.forget(client_id)
        self.directory.forget(client_id)

    def client_created(self, client_id: str) -> None:
        """The store has just created the client's row: it has no webhook of its own yet."""
        self.directory.created(client_id)

    # ---- what the routes call (EventsPort) -------------------------------------------------------
    def list_events(self, *, client_id=None, client_ids=None, type=None, after=None, limit=100) -> EventPage:
        """Events oldest first, after the cursor; `next` is set when there may be more (`client_ids`:
        of these clients only)."""
        rows = self._store.list_events(client_id=client_id, client_ids=client_ids, type=type, after=after,
                                       limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return EventPage([status_of(r) for r in rows], rows[-1].event_id if more else None)

    def redeliver(self, event_id: str, client_ids: Collection[str] | None = None) -> EventStatus:
        """Queue one event again (NotFound, also for another client's than `client_ids`'; Conflict when no
        webhook applies to it)."""
        row = self._store.get_event(event_id)
        if row is None or (client_ids is not None and row.client_id not in client_ids):
            raise NotFound(f"No event with id '{event_id}'.")
        if not self.directory.applies(row.client_id, row.type):
            raise Conflict(f"No webhook applies to event '{event_id}' (client '{row.client_id}', type '{row.type}').")
        self._store.requeue_event(event_id)
        self.delivery.offer(row.client_id)
        return status_of(self._store.get_event(event_id) or row)

    def replay(self, client_id: str, after: str | None) -> int:
        """Queue every event of the client after `after` again, in order; return how many (Conflict: no webhook)."""
        hook = self.directory.for_client(client_id)
        if hook is None:
            raise Conflict(f"No webhook applies to client '{client_id}'.")
        types = None if hook.events is None else sorted(t.value for t in hook.events)
        queued = self._store.requeue_client_events(client_id, after, types)
        if queued:
            self.delivery.offer(client_id)
        return queued

    def webhook(self, client_id: str) -> WebhookConfig:
        """The client's own webhook (NotFound if it has none)."""
        return self.directory.get(client_id)

    def set_webhook(self, client_id: str, url: str, events: frozenset[EventType] | None,
                    secret: str | None) -> tuple[WebhookConfig, bool]:
        """Store the client's own webhook; (config, True) when the secret was generated here.

        DestinationNotAllowed when the URL's host is, in any spelling, an address the policy refuses
        (a name is checked at every connect, on what it resolves to then)."""
        self.destinations.check_host(urlsplit(url).hostname or "", "Field 'url'")
        generated = secret is None
        hook = WebhookConfig(url, secret or new_secret(), events, client_id)
        return self.directory.save(hook), generated

    def delete_webhook(self, client_id: str) -> None:
        """Remove the client's own webhook (NotFound if it has none)."""
        self.directory.delete(client_id)
