"""How long a lease lasts, how often it is renewed, and how early an instance that cannot renew
lets its clients go.

- LEASE 15 s: how long a client stays unowned after its instance dies (SIGKILL, power): the new
  owner takes it only after expiry, then restores (~1 s) and connects (a few s), well inside the
  45 s failover target. Shorter leases cost more renewals and make a database hiccup a failover.
- RENEW 3 s: one UPDATE per instance (all its leases at once) every 3 s; five renewals fit in one
  lease, so three may fail (a database failover, a slow statement) before anything happens.
- MARGIN 5 s: an instance that has not renewed for LEASE - MARGIN = 10 s (counted from the moment
  its last successful renewal was *sent*, so the database's expiry is at least LEASE after it)
  disconnects every client. The 5 s left cover the disconnect itself (a socket close per client),
  the watch thread's own tick (0.25 s) and the rate difference of two clocks over 15 s (ppm); a
  pause longer than that (a stop of the whole process) is the one case the margin cannot cover: when
  the process resumes, the watch thread is the first to act on it, and the database has by then
  refused every write of its (the fence), while WhatsApp closes the older of two connections.
"""

from __future__ import annotations

from dataclasses import dataclass

LEASE_SECONDS = 15.0
RENEW_SECONDS = 3.0
MARGIN_SECONDS = 5.0
WATCH_TICK_SECONDS = 0.25  # how often the watch thread compares the clock with the fence deadline


@dataclass(frozen=True)
class LeaseTimings:
    lease: float = LEASE_SECONDS
    renew: float = RENEW_SECONDS
    margin: float = MARGIN_SECONDS
    tick: float = WATCH_TICK_SECONDS

    def __post_init__(self):
        if not 0 < self.tick < self.margin < self.lease:
            raise ValueError("lease timings need 0 < tick < margin < lease")
        if 2 * self.renew > self.lease - self.margin:
            raise ValueError("at least two renewals must fit before the self-fence (2 * renew <= lease - margin)")

    @property
    def trust(self) -> float:
        """Seconds after a renewal was sent that its leases are still surely ours."""
        return self.lease - self.margin
