"""Capacity of one instance: 5,000 READY simulator clients on the embedded store (SQLite).

1. fill: 8 callers create the clients with a phone at FILL_RATE (100/s) in all; the simulated phone
   enters each code PAIR_DELAY (20 s) after it was shown, as a person would; then all READY.
2. idle: SETTLE seconds after all READY, IDLE seconds without a request: the server's CPU (percent
   of one core), its threads and RSS at the end.
3. GET /api/clients: the whole array (as before) ROUNDS times; then pages of PAGE clients, the
   whole list walked twice (and once with ?state=READY): latency per page. GET /metrics: bytes and
   latency.
4. creates: a burst of BURST more clients by 8 callers as fast as they are answered (each create
   answers once its pairing code is shown): creates/s and each create's latency, beside the clients
   already there; their pairings follow PAIR_DELAY later, and the time until they are READY too.
   The simulator's connect delay is 0 (SIM_CONNECT_DELAY, default 0.2 s: each create would wait
   it, and 8 callers could not pass 40/s whatever the server does): the figure is the server's cost.

The fill is paced because a create costs less than what follows it (pairing, first snapshot, four
state changes and their events: ~7 ms of CPU on this machine against ~2.3 ms for the create): 5,000
creates at 300/s bring 5,000 pairings 20 s later at 300/s, more than one core can do.

    python -m bench.capacity                   # targets: idle < 5 % of a core, pages p99 < 50 ms, >= 200 creates/s
    python -m bench.capacity --base main --base-clients 2000
        # first commit main's tree (unpacked with `git archive`) and this tree with 2,000 clients each
        # (main's ratio), then this tree with 5,000, in one run
    python -m bench.capacity --clients 500 --idle 20   # shorter
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ServerProcess, cpu_seconds, report, rss_mb
from bench.sends import unpack
from tests.server_process import API_KEY

CALLERS = 8
SETTLE = 15.0  # after all READY: the pairing snapshots and first checks are done
PAGE = 100
ROUNDS = 10
PAIR_DELAY = 20.0
FILL_RATE = 100.0  # creates/s while filling the instance
BURST = 1000
ENV = {"SIM_CONNECT_DELAY": "0", "SIM_SYNC_DELAY": "0.1", "LOG_LEVEL": "WARNING"}


class Caller:
    """One keep-alive connection to the server."""

    def __init__(self, port: int):
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes, float]:
        """(status, body, seconds)."""
        headers = {"x-api-key": API_KEY}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        began = time.perf_counter()
        self._conn.request(method, path, body=data, headers=headers)
        resp = self._conn.getresponse()
        payload = resp.read()
        return resp.status, payload, time.perf_counter() - began

    def close(self) -> None:
        self._conn.close()


def create_all(port: int, ids: range, rate: float | None = None) -> tuple[float, list[float]]:
    """(seconds for every create, each create's latency), CALLERS at a time; with `rate`, the n-th
    create starts no earlier than n / rate seconds after the first."""
    latencies: list[float] = []
    todo = iter(enumerate(ids))
    lock = threading.Lock()
    began = time.monotonic()

    def caller():
        me = Caller(port)
        while True:
            with lock:
                n, client = next(todo, (None, None))
            if n is None:
                break
            if rate:
                time.sleep(max(0.0, began + n / rate - time.monotonic()))
            status, body, took = me.call("POST", "/api/clients", {"clientId": f"k{client:05d}",
                                                                  "phone": f"+4916{client:08d}"})
            assert status == 201, body[:200]
            with lock:
                latencies.append(took)
        me.close()

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(latencies) == len(ids), "a create failed (see above)"
    return time.monotonic() - began, latencies


def wait_ready(port: int, count: int, timeout: float) -> float:
    caller, began = Caller(port), time.monotonic()
    while time.monotonic() - began < timeout:
        status, body, _ = caller.call("GET", "/api/clients")
        if sum(c["state"] == "READY" for c in json.loads(body)) == count:
            caller.close()
            return time.monotonic() - began
        time.sleep(2.0)
    raise AssertionError(f"{count} clients not READY within {timeout}s")


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads line")


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def page_walk(caller: Caller, query: str) -> list[float] | None:
    """Latency of every page of one walk; None when the tree answers no pages (an array)."""
    took, cursor = [], None
    while True:
        status, body, seconds = caller.call("GET", f"/api/clients?limit={PAGE}{query}"
                                            + (f"&cursor={cursor}" if cursor else ""))
        page = json.loads(body)
        if status != 200 or isinstance(page, list):
            return None
        took.append(seconds)
        cursor = page["next"]
        if cursor is None:
            return took


def reads(port: int) -> dict:
    caller = Caller(port)
    whole = [caller.call("GET", "/api/clients") for _ in range(ROUNDS)]
    pages = page_walk(caller, "")
    if pages is not None:
        pages += page_walk(caller, "") + page_walk(caller, "&state=READY")
    metrics = [caller.call("GET", "/metrics") for _ in range(5)]
    caller.close()
    return {"list_ms_p50": ms([w[2] for w in whole], 0.5), "list_ms_max": ms([w[2] for w in whole], 1.0),
            "list_kb": round(len(whole[0][1]) / 1024), "pages": len(pages) if pages else "n/a",
            "page_ms_p50": ms(pages, 0.5) if pages else "n/a", "page_ms_p99": ms(pages, 0.99) if pages else "n/a",
            "metrics_ms_p50": ms([m[2] for m in metrics], 0.5), "metrics_kb": round(len(metrics[0][1]) / 1024)}


def run(tmp: Path, count: int, base: str | None, args) -> dict:
    """One tree (this one, or commit base's), from an empty data directory."""
    tmp.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(tmp / f"data-{base or 'this'}", {**ENV, "SIM_PAIR_DELAY": str(args.pair_delay)})
    if base:
        server.root = unpack(base, tmp / f"tree-{base}")
    server.start(timeout=60)
    try:
        pid = server.proc.pid
        create_all(server.port, range(count), args.fill_rate)
        ready_s = wait_ready(server.port, count, timeout=max(300.0, count / 5))
        time.sleep(SETTLE)
        load = os.getloadavg()[0]
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle)
        idle_pct = 100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        row = {"tree": base or "this", "clients": count, "all_ready_after_s": round(ready_s, 1),
               "idle_cpu_pct": round(idle_pct, 2), "threads": threads_of(pid), "rss_mb": round(rss_mb(pid)),
               "load_avg_1m": round(load, 2)}
        row.update(reads(server.port))
        create_s, latencies = create_all(server.port, range(count, count + args.burst))
        row.update({"burst_creates_per_s": round(args.burst / create_s, 1), "create_ms_p50": ms(latencies, 0.5),
                    "create_ms_p99": ms(latencies, 0.99), "load_avg_burst": round(os.getloadavg()[0], 2),
                    "burst_ready_after_s": round(wait_ready(server.port, count + args.burst, 300.0), 1)})
        print(json.dumps(row), flush=True)
        return row
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of the idle reading")
    parser.add_argument("--pair-delay", type=float, default=PAIR_DELAY, help="seconds until the phone enters a code")
    parser.add_argument("--fill-rate", type=float, default=FILL_RATE, help="creates/s while filling")
    parser.add_argument("--burst", type=int, default=BURST, help="clients created as fast as answered")
    parser.add_argument("--base", help="also measure commit BASE's tree, the same way, in the same run (first)")
    parser.add_argument("--base-clients", type=int, help="clients of BASE's run, and of a run of this tree "
                        "beside it (main's tree stalls at ~3,400 clients on this machine)")
    args = parser.parse_args()
    runs = [(args.base, args.base_clients or args.clients)] if args.base else []
    if args.base and args.base_clients and args.base_clients != args.clients:
        runs.append((None, args.base_clients))
    rows = []
    with tempfile.TemporaryDirectory(prefix="wamulti-capacity-") as tmp:
        for n, (base, count) in enumerate(runs + [(None, args.clients)]):
            rows.append(run(Path(tmp) / str(n), count, base, args))
    this = rows[-1]
    pages_ok = isinstance(this["page_ms_p99"], float) and this["page_ms_p99"] < 50
    report("capacity", rows, {
        "target": "idle < 5 % of a core, GET /api/clients pages p99 < 50 ms, >= 200 creates/s (8 callers)",
        "met": this["idle_cpu_pct"] < 5 and pages_ok and this["burst_creates_per_s"] >= 200,
        "load_avg_at_end": [round(v, 2) for v in os.getloadavg()]})


if __name__ == "__main__":
    main()
