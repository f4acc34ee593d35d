"""What the API needs of the client registry, and the one way a route reaches it.

The routes depend on this Protocol, not on ClientRegistry itself, so a test double (tests/
fake_registry.py) fits the same seam and the API never reaches into worker internals. A scoped key
gets the registry through ScopedRegistry (its clients only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, TypeVar

from flask import current_app

from .auth import current_principal
from .scoped import ScopedRegistry

if TYPE_CHECKING:
    from ..clients.lookups import Lookups
    from ..clients.registry import ClientStatus, Unlinked
    from ..groups.client_groups import ClientGroups
    from ..store.send_rows import OutboundRow
    from ..sending.action_payloads import ActionRequest
    from ..sending.outcome import Accepted
    from ..sending.payloads import SendRequest
    from ..sending.sender import Sent

REGISTRY_EXTENSION = "wamulti.clients.registry"
T = TypeVar("T")


class RegistryPort(Protocol):
    """The registry operations the routes call; each raises domain errors (wamulti.errors)."""

    store_kind: str
    console_enabled: bool

    def create(self, client_id: str, phone: str | None) -> ClientStatus: ...
    def list(self) -> list[ClientStatus]: ...
    def page(self, limit: int, after: str | None = None, state: str | None = None
             ) -> tuple[list[ClientStatus], str | None]: ...
    def get(self, client_id: str) -> ClientStatus: ...
    def pair(self, client_id: str, phone: str | None) -> ClientStatus: ...
    def qr(self, client_id: str) -> str: ...
    def delete(self, client_id: str) -> Unlinked: ...
    def while_live(self, client_id: str, action: Callable[[], T]) -> T: ...
    def send_text(self, client_id: str, to: str, text: str, *, wait: bool = True,
                  idempotency_key: str | None = None) -> Sent | Accepted: ...
    def queue_length(self, client_id: str) -> int: ...
    def send_message(self, client_id: str, request: SendRequest, *, wait: bool = True,
                     idempotency_key: str | None = None, admin: bool = True) -> Sent | Accepted: ...
    def message_action(self, client_id: str, request: ActionRequest, *, wait: bool = True,
                       idempotency_key: str | None = None) -> Sent | Accepted: ...
    def message_status(self, message_id: str) -> OutboundRow: ...
    def groups(self, client_id: str) -> ClientGroups: ...
    def retry_media(self, media_id: str) -> dict: ...
    def lookups(self, client_id: str) -> Lookups: ...
    def health(self) -> dict: ...


def registry() -> RegistryPort:
    """The registry of the app serving this request, as far as the request's key may see it."""
    port = current_app.extensions[REGISTRY_EXTENSION]
    principal = current_principal()
    return port if principal.is_admin else ScopedRegistry(port, principal)
