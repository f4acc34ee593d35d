"""Whereabouts: where each client runs, as the live leases and the instances table say; what any
instance needs to answer for a client another one runs (docs/api.md "Several instances")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    instance_id: str
    address: str  # http://host:port the instance serves on


@dataclass(frozen=True)
class InstanceView:
    """One instance as GET /api/instances shows it."""

    instance_id: str
    address: str
    clients: int  # live leases it holds
    live: bool  # seen within one lease length and not stopped
    seen_seconds_ago: float
    started_at: object  # naive UTC datetime
    stopped_at: object


class Whereabouts:
    def __init__(self, store, instance_id: str, lease_seconds: float):
        self._store, self.instance_id, self._lease = store, instance_id, lease_seconds

    def owners(self) -> dict[str, str]:
        """client_id -> the instance holding its live lease (clients without one are missing)."""
        return {row.client_id: row.owner for row in self._store.lease_rows() if row.live}

    def owner(self, client_id: str) -> Owner | None:
        """The live owner of the client (None: nobody holds its lease now)."""
        rows = self._store.lease_rows([client_id])
        if not rows or not rows[0].live:
            return None
        addresses = {row.instance_id: row.address for row in self._store.instance_rows()}
        return Owner(rows[0].owner, addresses.get(rows[0].owner, ""))

    def instances(self) -> list[InstanceView]:
        _, per_owner = self._store.lease_summary()
        return [InstanceView(row.instance_id, row.address, per_owner.get(row.instance_id, 0),
                             row.stopped_at is None and row.seen_seconds_ago < self._lease,
                             round(row.seen_seconds_ago, 1), row.started_at, row.stopped_at)
                for row in self._store.instance_rows()]
