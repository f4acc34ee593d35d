"""The process-wide connectivity gate: in a network outage clients wait for the network, not dial.

Every failed dial costs the neonize backend a descriptor and ~180 KB for good (docs/neonize.md),
so during an outage the clients must not keep dialling. A backend reports each failed dial here
(`dial_failed`); the gate reads the library's error text (`classify`):
- NETWORK (no DNS answer, the endpoint or the proxy unreachable, the proxy refusing the tunnel):
  the gate closes at once;
- SUSPECT (the connection broke before anything answered: EOF from the proxy, a reset): one probe
  runs now, and the gate closes only if it fails too;
- REACHED (a TLS or websocket failure after the tunnel was up, WhatsApp's own answers): the gate
  stays as it is; the worker's backoff handles the client.
While the gate is closed a paired client does not dial: `wait` registers it (no thread of its
own) and it shows CONNECTING with `lastError` `waiting_for_network: <why>`. One probe thread
(netprobe.py: the route the library takes, proxy variables included) tries 2 s after the close,
doubling to 15 s; when it succeeds the gate opens and each waiting client is called back with a
delay drawn over a window that grows with their number (40 ms each, 2 s to 60 s), so 1,000 clients
do not dial in the same second and all dial within 75 s of the network's return.

The dial budget: descriptors leaked by failed dials never come back, whatever their reason, so
past `dial_budget` failed dials the process pauses dialling (`dialling_paused: ...`) until it is
restarted. No client is ever closed for it; a restart brings them all back.
"""

from __future__ import annotations

import enum
import logging
import random
import re
import threading
import time
from typing import Callable, Mapping

from . import netprobe
from .reasons import clip

log = logging.getLogger(__name__)

PROBE_FIRST, PROBE_CAP = 2.0, 15.0  # seconds between probes while the network is down
FLAP_SECONDS = 60.0  # a gate that closes again this soon after opening probes less often (a flapping route)
RELEASE_PER_CLIENT, RELEASE_MIN, RELEASE_CAP = 0.04, 2.0, 60.0  # the window waiting clients dial over
WAITING_FOR_NETWORK = "waiting_for_network"
DIALLING_PAUSED = "dialling_paused"
REASON_LIMIT = 160


class DialFailure(enum.Enum):
    NETWORK = "network"
    SUSPECT = "suspect"
    REACHED = "reached"


_DIAL = "failed to dial whatsapp web websocket"  # whatsmeow's ErrDialFailed: nothing answered the websocket yet
_HTTP_TAIL = re.compile(r'Get "[^"]*": (.*)$')  # Go's url.Error around what the transport said
# "dial tcp" covers a refused, unreachable or timed-out TCP connect; "proxyconnect" the proxy's
_NETWORK_MARKS = ("proxyconnect", "dial tcp", "lookup ", "no such host", "connection refused",
                  "network is unreachable", "no route to host", "host is down", "unknown status code")
_GO_PLAIN = ("unexpected EOF", "context deadline exceeded", "context canceled")  # not a status text
_REACHED_MARKS = ("tls:", "x509:", "certificate", "tls handshake", "status code")


def classify(error: str) -> DialFailure:
    """What a failed connect() says about the network (the library's texts: docs/neonize.md)."""
    text = " ".join(error.split())
    if _DIAL not in text:
        return DialFailure.REACHED  # the websocket was up: the noise handshake or WhatsApp failed
    lowered = text.lower()
    if any(mark in lowered for mark in _NETWORK_MARKS):
        return DialFailure.NETWORK
    tail = _tail(text)
    if tail == "EOF" or any(mark in lowered for mark in _REACHED_MARKS):
        return DialFailure.REACHED  # the tunnel (or TCP) was up; TLS or the handshake failed
    if _is_status_text(tail):
        return DialFailure.NETWORK  # Go reports a proxy's non-200 answer by its status text alone
    return DialFailure.SUSPECT


def _tail(text: str) -> str:
    """What Go's transport said, without the wrappers around it (whatsmeow's, the websocket's, the URL)."""
    found = _HTTP_TAIL.search(text)
    return found.group(1).strip() if found else ""


def _is_status_text(tail: str) -> bool:
    return bool(tail) and ":" not in tail and tail not in _GO_PLAIN and tail != "EOF"


def why_down(error: str) -> str:
    """The part of a dial's error worth showing in `waiting_for_network: ...`."""
    text = " ".join(error.split())
    tail = _tail(text)
    if _is_status_text(tail):
        return _short(f"the proxy answered {tail}")
    return _short(tail or text)


def _short(text: str) -> str:
    return clip(text, REASON_LIMIT)


class ConnectivityGate:
    """Open while the network is up; see the module's docstring. Thread-safe."""

    def __init__(self, probe: Callable[[], str | None], *, dial_budget: int | None = None,
                 probe_first: float = PROBE_FIRST, probe_cap: float = PROBE_CAP,
                 release_per_client: float = RELEASE_PER_CLIENT, release_min: float = RELEASE_MIN,
                 release_cap: float = RELEASE_CAP, rng: Callable[[], float] = random.random, route: str = ""):
        self._probe = probe
        self._dial_budget = dial_budget
        self._probe_first, self._probe_cap = probe_first, probe_cap
        self._release = (release_per_client, release_min, release_cap)
        self._rng = rng
        self._route = route
        self._lock = threading.Lock()
        self._down: str | None = None  # why the gate is closed; None: open
        self._down_since = 0.0
        self._waiters: dict[Callable[[float], None], None] = {}  # ordered set of callbacks
        self._prober: threading.Thread | None = None
        self._opened_at, self._last_pause = float("-inf"), probe_first
        self._stopping = threading.Event()
        self._failed_dials = 0

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, **options) -> "ConnectivityGate":
        """A gate whose probe takes the route the library takes under `env` (default: os.environ)."""
        route = netprobe.route_from_environment(env)
        return cls(lambda: netprobe.probe(route), route=route.describe(), **options)

    # ---- what backends and workers call -------------------------------------------------------
    def dial_failed(self, error: str) -> DialFailure:
        """A dial failed with the library's `error`: count it, and close the gate if the network is down."""
        kind = classify(error)
        with self._lock:
            self._failed_dials += 1
            if kind is DialFailure.REACHED or self._stopping.is_set():
                return kind
            if kind is DialFailure.NETWORK and self._down is None:
                self._close_locked(why_down(error))
            self._start_prober_locked(check_now=self._down is None)
        return kind

    def wait(self, on_open: Callable[[float], None]) -> str | None:
        """None: dial now. Otherwise the `lastError` to show while waiting; `on_open(delay)` is then
        called once, on the probe thread, when the gate opens (dial after `delay` seconds)."""
        with self._lock:
            paused = self._paused_locked()
            if paused is not None:
                return paused  # only a restart dials again: nothing to call back
            if self._down is None:
                return None
            self._waiters[on_open] = None
            return f"{WAITING_FOR_NETWORK}: {self._down}"

    def forget(self, on_open: Callable[[float], None]) -> None:
        """A client that stopped waiting (stopped, deleted) is not called back."""
        with self._lock:
            self._waiters.pop(on_open, None)

    def paused(self) -> str | None:
        """The `lastError` of a process past its dial budget, else None."""
        with self._lock:
            return self._paused_locked()

    def close(self) -> None:
        """Shutdown: the probe thread ends; nobody is called back any more."""
        self._stopping.set()
        with self._lock:
            self._waiters.clear()

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._down is None

    @property
    def waiting(self) -> int:
        """Clients waiting for the network (read-only)."""
        with self._lock:
            return len(self._waiters)

    @property
    def dial_budget(self) -> int | None:
        return self._dial_budget

    @property
    def failed_dials(self) -> int:
        with self._lock:
            return self._failed_dials

    # ---- the probe thread ----------------------------------------------------------------------
    def _paused_locked(self) -> str | None:
        if self._dial_budget is None or self._failed_dials < self._dial_budget:
            return None
        return (f"{DIALLING_PAUSED}: {self._failed_dials} failed dials in this process (each leaks a "
                f"descriptor in the library); restart the service to dial again")

    def _close_locked(self, why: str) -> None:
        self._down, self._down_since = why, time.monotonic()
        log.warning("network down (%s): paired clients wait for it; probing %s", why, self._route or "the route")

    def _start_prober_locked(self, *, check_now: bool) -> None:
        if self._prober is not None:
            return  # one probe thread at a time; it runs until the gate is open
        pause = self._probe_first
        if time.monotonic() - self._opened_at < FLAP_SECONDS:
            pause = min(self._probe_cap, self._last_pause * 2)
        waits = (0.0, pause) if check_now else (pause, min(self._probe_cap, pause * 2))
        self._prober = threading.Thread(target=self._probe_loop, args=waits,
                                        name="network-probe", daemon=True)
        self._prober.start()

    def _probe_loop(self, wait: float, pause: float) -> None:
        while not self._stopping.wait(wait):
            why = self._probe()
            with self._lock:
                if why is None:
                    self._prober = None
                    waiters = self._open_locked(max(wait, self._probe_first))
                    break
                if self._down is None:  # a suspect failure, confirmed by the probe
                    self._close_locked(_short(why))
            wait, pause = pause, min(self._probe_cap, pause * 2)
        else:
            return
        self._call_back(waiters)

    def _open_locked(self, last_pause: float) -> list[Callable[[float], None]]:
        if self._down is not None:
            self._opened_at, self._last_pause = time.monotonic(), last_pause
            log.warning("network back after %.0fs: %d waiting clients dial again", time.monotonic() - self._down_since,
                        len(self._waiters))
        self._down = None
        waiters, self._waiters = list(self._waiters), {}
        return waiters

    def _call_back(self, waiters: list[Callable[[float], None]]) -> None:
        """Each waiting client dials after its own delay, spread over a window that grows with their number."""
        per_client, low, high = self._release
        window = min(high, max(low, len(waiters) * per_client))
        for on_open in waiters:
            try:
                on_open(self._rng() * window)
            except Exception:  # one client's bug must not keep the others waiting
                log.exception("a waiting client could not be called back")
