"""Placement: which clients this instance runs, so that the spread stays even.

Every PLACE_SECONDS the `placement` thread reads the clients in all, the live leases per instance
and the live instances (seen within one lease length), and compares its own count with the share,
ceil(clients / live instances), capped by MAX_CLIENTS_PER_INSTANCE:
- below the share it takes free leases (a dead or stopped instance's, new clients') and runs them;
- above share + share // 10 + 1 it hands clients over, at most HANDOVERS_PER_MINUTE (each costs
  the account a reconnect, so a new instance takes its share gradually): graceful, the client's
  final snapshot first, then the lease released, and an instance below its share takes it.
It also keeps the registry and the leases in step: a client running without a lease is let go at
once, a lease without its client running is adopted.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..store import StoreError
from .lease_keeper import LeaseKeeper

log = logging.getLogger(__name__)

PLACE_SECONDS = 2.0
HANDOVERS_PER_MINUTE = 60
TAKE_BATCH = 100  # clients adopted in one look: a dead instance's are spread over the survivors' looks


class RunsClients(Protocol):
    """What placement needs of the registry (clients/cluster_hooks.py)."""

    def adopt(self, client_ids: Sequence[str]) -> list[str]: ...
    def let_go(self, client_ids: Sequence[str], *, at_once: bool = False) -> list[str]: ...
    def running(self) -> list[str]: ...
    def runs(self, client_id: str) -> bool: ...
    def pick_up(self, rows: Sequence) -> None: ...


@dataclass(frozen=True)
class PlacementRules:
    every: float = PLACE_SECONDS
    handovers_per_minute: int = HANDOVERS_PER_MINUTE
    max_clients: int = 0  # MAX_CLIENTS_PER_INSTANCE; 0: no cap


def share_of(total: int, live_instances: int, max_clients: int = 0) -> int:
    """The clients one instance should run."""
    share = math.ceil(total / max(1, live_instances))
    return min(share, max_clients) if max_clients else share


def moves(mine: int, total: int, live_instances: int, rules: PlacementRules) -> tuple[int, int]:
    """(clients to take, clients to hand over) for an instance running `mine`."""
    share = share_of(total, live_instances, rules.max_clients)
    if mine < share:
        return share - mine, 0
    if mine > share + share // 10 + 1 or (rules.max_clients and mine > rules.max_clients):
        return 0, mine - share
    return 0, 0


class Placement:
    """The `placement` thread of one instance."""

    def __init__(self, store, keeper: LeaseKeeper, registry: RunsClients, rules: PlacementRules = PlacementRules()):
        self._store, self._keeper, self._registry, self.rules = store, keeper, registry, rules
        self._handover_credit = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="placement", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)

    def _main(self) -> None:
        while not self._stopping.wait(self.rules.every):  # the first look after one period: peers register
            try:
                self.place_once()
            except StoreError as exc:
                log.warning("placement skipped a look: %s", exc)
            except Exception:
                log.exception("placement failed")

    def live_instances(self) -> int:
        lease = self._keeper.timings.lease
        return sum(1 for row in self._store.instance_rows() if row.stopped_at is None and row.seen_seconds_ago < lease)

    def place_once(self) -> tuple[int, int]:
        """One look: keep registry and leases in step, then take or hand over; (taken, handed over)."""
        self._reconcile()
        total, _ = self._store.lease_summary()
        held = self._keeper.held()
        take, give = moves(len(held), total, self.live_instances(), self.rules)
        self._handover_credit = min(self._handover_credit + self.rules.handovers_per_minute * self.rules.every / 60,
                                    max(1.0, self.rules.handovers_per_minute / 6))
        give = min(give, int(self._handover_credit))
        taken = self._keeper.take(min(take, TAKE_BATCH)) if take else {}
        if taken:
            self._registry.adopt(sorted(taken))
        if give:
            self._handover_credit -= give
            self.hand_over(sorted(held)[-give:])
        return len(taken), give

    def hand_over(self, client_ids: Sequence[str]) -> None:
        """Graceful: each client stops (its final snapshot saved under the lease), then the leases go."""
        self._registry.let_go(client_ids)
        self._keeper.release(client_ids)
        log.info("handed over %d clients", len(client_ids))

    def _reconcile(self) -> None:
        held, running = set(self._keeper.held()), set(self._registry.running())
        if running - held:
            self._registry.let_go(sorted(running - held), at_once=True)
        if held - running:
            self._registry.adopt(sorted(held - running))
