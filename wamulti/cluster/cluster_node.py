"""ClusterNode: one instance's part in the cluster (CLUSTER=on), built and stopped by server.py.

Start: the instance's row (its address for forwarded requests, docs/scaling.md), the store's fence
set to the keeper's tokens, the registry asked before it runs a client it created, then the lease
keeper's and placement's threads. Stop (SIGTERM): every client stops gracefully (final snapshot
under its lease), then its lease is released, so the other instances take it over at their next
look (seconds), not after expiry.
"""

from __future__ import annotations

import logging
import threading

from ..store import StoreError
from .lease_keeper import LeaseKeeper
from .lease_timings import LeaseTimings
from .placement import Placement, PlacementRules, RunsClients
from .queue_pickup import QueuePickup
from .whereabouts import Owner, Whereabouts

log = logging.getLogger(__name__)


HERE = "here"  # locate(): this instance answers


class ClusterNode:
    HERE = HERE

    def __init__(self, store, registry: RunsClients, instance_id: str, *,
                 timings: LeaseTimings = LeaseTimings(), rules: PlacementRules = PlacementRules()):
        self._store, self._registry, self.instance_id, self.address = store, registry, instance_id, ""
        self.keeper = LeaseKeeper(store, instance_id, timings, on_lost=self._lost)
        self.placement = Placement(store, self.keeper, registry, rules)
        self.pickup = QueuePickup(store, instance_id, registry.pick_up)
        self.whereabouts = Whereabouts(store, instance_id, timings.lease)

    def start(self, address: str) -> None:
        """Join: `address` is where the other instances reach this one (http://host:port)."""
        self.address = address
        self._store.register_instance(self.instance_id, self.address)
        self._store.fence_writes(self.keeper.token)
        self._registry.claim_new = self._claim_new
        self._registry.shared_queue = True
        self._registry.whereabouts = self.whereabouts
        self.keeper.start()
        self.placement.start()
        self.pickup.start()
        log.info("cluster: instance %s at %s (lease %gs, renewed every %gs, self-fence after %gs without)",
                 self.instance_id, self.address, self.keeper.timings.lease, self.keeper.timings.renew,
                 self.keeper.timings.trust)

    def locate(self, client_id: str) -> str | Owner | None:
        """Who answers for the client: HERE (it runs here, or is unknown: answered 404 here), its live
        owner elsewhere, or None while no instance holds it."""
        if self._registry.runs(client_id):
            return HERE
        owner = self.whereabouts.owner(client_id)
        if owner is None:
            return HERE if self._store.get_client(client_id) is None else None
        return HERE if owner.instance_id == self.instance_id else owner

    def _claim_new(self, client_id: str) -> bool:
        try:
            return client_id in self.keeper.take(1, [client_id])
        except StoreError as exc:
            log.warning("[%s] created, but its lease was not taken (%s): another instance will run it", client_id, exc)
            return False

    def _lost(self, client_ids: list[str], why: str) -> None:
        """Leases lost or self-fenced: the clients go at once, on a thread of their own (the keeper's
        threads must go on renewing and watching)."""
        threading.Thread(target=self._registry.let_go, args=(client_ids,), kwargs={"at_once": True},
                         name="lease-lost", daemon=True).start()

    def stop(self) -> None:
        """Hand every client over: graceful stops, then the leases released."""
        self.placement.stop()
        self.pickup.stop()
        held = sorted(self.keeper.held())
        self._registry.let_go(held)
        try:
            self.keeper.release(held)
            self._store.stop_instance(self.instance_id)
        except StoreError as exc:
            log.warning("leases not released (%s): they expire in %gs", exc, self.keeper.timings.lease)
        self.keeper.stop()
        log.info("cluster: handed over %d clients", len(held))
