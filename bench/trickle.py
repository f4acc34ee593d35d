"""Slow clients: /healthz latency while N connections each send a request header a byte a second,
straight to the service and through nginx (deploy/wamulti-nginx.conf), in one run.

    python -m bench.trickle                       # N = 0, 150, 300, 1000, 2000
    python -m bench.trickle --counts 300 --probes 50
    python -m bench.trickle --limit 4500 --counts 500,1000,2000   # waitress past the default cap

Everything on 127.0.0.1. Each round lasts a few seconds: through nginx the tricklers are ended at
client_header_timeout (10 s), so the probes run before that.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import ServerProcess, cpu_seconds, report
from tests.nginx import Nginx
from tests.trickle import Tricklers, timed_get

PROBE_TIMEOUT = 2.0  # seconds: a probe not answered by then counts as locked out
SETTLE_LIMIT = 15.0  # seconds to wait for the tricklers to be taken in


def settle(predicate) -> float:
    """Wait (bounded) until the tricklers are taken in; seconds it took."""
    started = time.monotonic()
    while not predicate() and time.monotonic() - started < SETTLE_LIMIT:
        time.sleep(0.05)
    return time.monotonic() - started


def probe(port: int, rounds: int) -> tuple[list[float], int]:
    """/healthz on a new connection each time: (milliseconds of those answered, how many were not)."""
    taken, missed = [], 0
    for _ in range(rounds):
        try:
            status, seconds = timed_get(port, timeout=PROBE_TIMEOUT)
            if status == 200:
                taken.append(seconds * 1000)
            else:
                missed += 1
        except OSError:
            missed += 1
        time.sleep(0.05)
    return taken, missed


def one_round(route: str, count: int, server: ServerProcess, limit: int, proxy: Nginx, probes: int) -> dict:
    port = proxy.port if route == "nginx" else server.port
    with Tricklers(port, count, seconds=60) as slow:
        if route == "nginx":
            settle(lambda: (proxy.active_connections() or 0) >= count)
        else:
            settle(lambda: slow.accepted_by(server.proc.pid) >= min(count, limit))
        cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
        taken, missed = probe(port, probes)
        cpu = (cpu_seconds(server.proc.pid) - cpu0) / (time.monotonic() - t0)
        at_service = slow.accepted_by(server.proc.pid)
        held = proxy.active_connections() if route == "nginx" else at_service
        trickling = slow.trickling
    return {"route": route, "tricklers": count, "held": held, "at_service": at_service, "trickling": trickling,
            "answered": len(taken), "missed": missed,
            "p50_ms": round(statistics.median(taken), 1) if taken else None,
            "max_ms": round(max(taken), 1) if taken else None, "server_cpu": round(cpu, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="0,150,300,1000,2000")
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--limit", help="HTTP_CONNECTION_LIMIT for the service (default: its own)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
        env = {"LOG_LEVEL": "WARNING", **({"HTTP_CONNECTION_LIMIT": args.limit} if args.limit else {})}
        server = ServerProcess(Path(tmp) / "data", env).start()
        proxy = Nginx(server.port).start()
        limit = _limit(server)
        try:
            for count in (int(c) for c in args.counts.split(",")):
                for route in ("direct", "nginx"):
                    rows.append(one_round(route, count, server, limit, proxy, args.probes))
                    time.sleep(1)  # the closed tricklers leave both servers
        finally:
            proxy.stop()
            server.close()
    report("trickle", rows, {"connections_waitress_takes": limit,
                             "note": "held = connections nginx (nginx) or waitress (direct) holds; "
                                     "at_service = tricklers waitress accepted; missed = probes not answered "
                                     f"within {PROBE_TIMEOUT} s"})


def _limit(server: ServerProcess) -> int:
    """The connections waitress takes before it stops accepting: its limit less its listener and trigger."""
    from wamulti.config import settings_from_env

    return settings_from_env(server.env).http_connection_limit - 2


if __name__ == "__main__":
    main()
