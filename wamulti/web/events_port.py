"""What the events and webhook routes need of the events service, and the one way they reach it.

The routes depend on this Protocol, not on EventService itself (wamulti.hearing.event_service), the
same way they reach the registry through RegistryPort.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol

from flask import current_app

from .auth import current_principal
from .scoped import ScopedEvents

if TYPE_CHECKING:
    from ..hearing.webhook_directory import WebhookConfig
    from ..hearing.event_model import EventStatus, EventType
    from ..hearing.event_service import EventPage

EVENTS_EXTENSION = "wamulti.hearing"


class EventsPort(Protocol):
    """The events operations the routes call; each raises domain errors (wamulti.errors)."""

    def list_events(self, *, client_id: str | None, client_ids: Collection[str] | None = None, type: str | None,
                    after: str | None, limit: int) -> EventPage: ...
    def redeliver(self, event_id: str, client_ids: Collection[str] | None = None) -> EventStatus: ...
    def replay(self, client_id: str, after: str | None) -> int: ...
    def webhook(self, client_id: str) -> WebhookConfig: ...
    def set_webhook(self, client_id: str, url: str, events: frozenset[EventType] | None,
                    secret: str | None) -> tuple[WebhookConfig, bool]: ...
    def delete_webhook(self, client_id: str) -> None: ...


def events() -> EventsPort:
    """The events service of the app serving this request, as far as the request's key may see it."""
    port = current_app.extensions[EVENTS_EXTENSION]
    principal = current_principal()
    return port if principal.is_admin else ScopedEvents(port, principal)
