"""Principal: whom a request acts for, and which clients it may see."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The admin key (`clients` None: every client) or a scoped key (`key_id`, the clients it names)."""

    key_id: str | None = None
    clients: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        return self.clients is None

    def can_see(self, client_id: str) -> bool:
        """Whether this key may act for the client (whether or not the client exists)."""
        return self.clients is None or client_id in self.clients


ADMIN = Principal()
NOBODY = Principal(clients=frozenset())  # what a request that was never authenticated acts as: no client
