"""LeaseKeeper: the client leases this process holds, renewed in the background, and the self-fence.

Two threads: `lease-renew` renews every lease of this instance in one statement each RENEW seconds;
`lease-watch` compares the clock with the fence deadline every tick. They are apart so that a
renewal stuck in a dead database connection never delays the self-fence. The deadline is the
moment the last successful renewal was sent plus LEASE - MARGIN: the database set each lease's
expiry to its own now + LEASE, and its now came after that moment (cluster/lease_timings.py).

`token(client_id)` is the fence the store asks before a client's writes (store.fence_writes): the
token while the lease is surely held, else None (the store then refuses the write).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from ..store import StoreError
from .lease_timings import LeaseTimings

log = logging.getLogger(__name__)

LostLeases = Callable[[list[str], str], None]  # (client ids, why): disconnect them now


class LeaseKeeper:
    """Leases of one instance (`instance_id`) in `store` (a MySQLStore)."""

    def __init__(self, store, instance_id: str, timings: LeaseTimings = LeaseTimings(), *,
                 on_lost: LostLeases | None = None, clock: Callable[[], float] = time.monotonic):
        self._store, self.instance_id, self.timings = store, instance_id, timings
        self._on_lost = on_lost or (lambda ids, why: None)
        self._clock = clock
        self._lock = threading.Lock()  # the tokens and the deadline: held for moments only
        self._db_turns = threading.Lock()  # take, renew and release one at a time (see renew_once)
        self._tokens: dict[str, int] = {}
        self._trusted_until = 0.0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failed_renewals = 0  # in a row; 0 after a success
        self.last_renewal: float | None = None  # clock time the last successful renewal was sent

    def token(self, client_id: str) -> int | None:
        """The client's lease token while its lease is surely ours, else None (the store's fence)."""
        with self._lock:
            if self._clock() >= self._trusted_until:
                return None
            return self._tokens.get(client_id)

    def renewal_age(self) -> float:
        """Seconds since the last successful renewal (or the first take) was sent; 0 before either."""
        with self._lock:
            since = self._trusted_until - self.timings.trust if self._trusted_until else None
        return max(0.0, self._clock() - since) if since is not None else 0.0

    def held(self) -> dict[str, int]:
        """client_id -> token of the leases held now."""
        with self._lock:
            return dict(self._tokens) if self._clock() < self._trusted_until else {}

    def take(self, limit: int, client_ids: Sequence[str] = ()) -> dict[str, int]:
        """Take up to `limit` free leases (of `client_ids` if given); return those taken."""
        with self._db_turns:
            sent = self._clock()
            taken = self._store.take_leases(self.instance_id, self.timings.lease, limit, client_ids)
            with self._lock:
                if not self._tokens:  # else the last renewal's deadline is the earlier, so the safer
                    self._trusted_until = sent + self.timings.trust
                self._tokens.update(taken)
        return taken

    def release(self, client_ids: Sequence[str]) -> None:
        """Give the leases up (after the clients stopped and saved their last snapshot)."""
        with self._lock:
            for client_id in client_ids:
                self._tokens.pop(client_id, None)
        with self._db_turns:
            self._store.release_leases(self.instance_id, list(client_ids))

    def renew_once(self) -> bool:
        """Renew every lease of this instance; leases found lost are reported, and leases the database
        says are ours but this process does not hold (self-fenced ones, a former life's) released."""
        with self._db_turns:  # a take between the renewal and the comparison would look like a stray
            sent = self._clock()
            try:
                in_db = self._store.renew_leases(self.instance_id, self.timings.lease)
            except StoreError as exc:
                self.failed_renewals += 1
                log.warning("lease renewal failed (%d in a row): %s", self.failed_renewals, exc)
                return False
            with self._lock:
                lost = [c for c, t in self._tokens.items() if in_db.get(c) != t]
                for client_id in lost:
                    del self._tokens[client_id]
                strays = [c for c in in_db if c not in self._tokens]
                self._trusted_until = sent + self.timings.trust
            self.failed_renewals, self.last_renewal = 0, sent
            if strays:
                self._release_strays(strays)
        if lost:
            log.warning("%d leases taken over by another instance: %s", len(lost), ", ".join(lost[:10]))
            self._on_lost(lost, "lease lost")
        return True

    def _release_strays(self, strays: list[str]) -> None:
        try:
            self._store.release_leases(self.instance_id, strays)
        except StoreError as exc:  # they expire on their own
            log.warning("could not release %d leases not in use: %s", len(strays), exc)

    def watch_once(self) -> list[str]:
        """The self-fence: past the deadline, every client is let go; return them."""
        with self._lock:
            if not self._tokens or self._clock() < self._trusted_until:
                return []
            fenced = sorted(self._tokens)
            self._tokens.clear()
        log.error("self-fence: no lease renewal for %.1fs (%d failed in a row); disconnecting %d clients before "
                  "their leases can expire", self.timings.trust, self.failed_renewals, len(fenced))
        self._on_lost(fenced, "self-fence")
        return fenced

    def start(self) -> None:
        for name, step, period in (("lease-renew", self.renew_once, self.timings.renew),
                                   ("lease-watch", self.watch_once, self.timings.tick)):
            thread = threading.Thread(target=self._every, args=(step, period), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _every(self, step: Callable[[], object], period: float) -> None:
        while not self._stopping.wait(period):
            try:
                step()
            except Exception:  # a bug here must not end the renewals silently
                log.exception("lease keeper step failed")

    def stop(self) -> None:
        """End both threads (the leases stay until released or expired)."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(self.timings.lease)
        self._threads.clear()
