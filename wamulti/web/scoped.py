"""The registry and the events service as a scoped key sees them: its clients only.

The one place a scoped key's reach is enforced for data: `registry()` and `events()` hand these
wrappers to every route when the request's principal is not the admin. Another client answers
exactly as a client that does not exist (the same NotFound, the same sentence), and lists leave
it out, so a scoped key cannot learn which other clients exist.
"""

from __future__ import annotations

from ..errors import NotFound
from ..hearing.event_service import EventPage
from ..keys import Principal
from .error_handlers import Forbidden


def no_such_client(client_id: str) -> NotFound:
    """The registry's own answer for an unknown client (wamulti/clients/registry.py words it the same)."""
    return NotFound(f"No client with id '{client_id}'.")


class ScopedRegistry:
    """RegistryPort for a scoped principal; creating and deleting clients are admin-only routes."""

    def __init__(self, registry, principal: Principal):
        self._registry, self._principal = registry, principal

    @property
    def store_kind(self) -> str:
        return self._registry.store_kind

    @property
    def console_enabled(self) -> bool:
        return self._registry.console_enabled

    def _visible(self, client_id: str) -> str:
        if not self._principal.can_see(client_id):
            raise no_such_client(client_id)
        return client_id

    def create(self, client_id, phone):
        raise Forbidden("Creating clients needs the admin key.")  # the route is admin-only: a second fence

    def delete(self, client_id):
        raise Forbidden("Deleting clients needs the admin key.")  # the route is admin-only: a second fence

    def list(self):
        return [status for status in self._registry.list() if self._principal.can_see(status.client_id)]

    def page(self, limit, after=None, state=None):
        return self._registry.page(limit, after, state, visible=self._principal.can_see)

    def get(self, client_id):
        return self._registry.get(self._visible(client_id))

    def pair(self, client_id, phone):
        return self._registry.pair(self._visible(client_id), phone)

    def qr(self, client_id):
        return self._registry.qr(self._visible(client_id))

    def while_live(self, client_id, action):
        return self._registry.while_live(self._visible(client_id), action)

    def send_text(self, client_id, to, text, **options):
        return self._registry.send_text(self._visible(client_id), to, text, **options)

    def queue_length(self, client_id):
        return self._registry.queue_length(self._visible(client_id))

    def groups(self, client_id):
        return self._registry.groups(self._visible(client_id))

    def send_message(self, client_id, request, **options):
        return self._registry.send_message(self._visible(client_id), request, **options)

    def lookups(self, client_id):
        return self._registry.lookups(self._visible(client_id))

    def message_action(self, client_id, request, **options):
        return self._registry.message_action(self._visible(client_id), request, **options)

    def message_status(self, message_id):
        row = self._registry.message_status(message_id)
        if not self._principal.can_see(row.client_id):
            raise NotFound(f"No message with id '{message_id}'.")  # the registry's words for an unknown id
        return row

    def retry_media(self, media_id):
        return self._registry.retry_media(media_id, visible=self._principal.can_see)

    def health(self):
        return self._registry.health()


class ScopedEvents:
    """EventsPort for a scoped principal: its clients' events and webhooks only."""

    def __init__(self, events, principal: Principal):
        self._events, self._principal = events, principal

    def _visible(self, client_id: str) -> str:
        if not self._principal.can_see(client_id):
            raise no_such_client(client_id)
        return client_id

    def list_events(self, *, client_id, type, after, limit, client_ids=None):
        # an unknown clientId lists nothing today; another client's does the same
        if client_id is not None:
            if not self._principal.can_see(client_id):
                return EventPage([], None)
            return self._events.list_events(client_id=client_id, type=type, after=after, limit=limit)
        if not self._principal.clients:  # every client it named was deleted
            return EventPage([], None)
        return self._events.list_events(client_id=None, client_ids=sorted(self._principal.clients), type=type,
                                        after=after, limit=limit)

    def redeliver(self, event_id, client_ids=None):
        return self._events.redeliver(event_id, client_ids=self._principal.clients)

    def replay(self, client_id, after):
        return self._events.replay(self._visible(client_id), after)

    def webhook(self, client_id):
        return self._events.webhook(self._visible(client_id))

    def set_webhook(self, client_id, url, events, secret):
        return self._events.set_webhook(self._visible(client_id), url, events, secret)

    def delete_webhook(self, client_id):
        return self._events.delete_webhook(self._visible(client_id))
