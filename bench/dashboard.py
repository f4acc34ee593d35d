"""Open dashboards against the API: GET /api/clients/<id> latency with 0 and with 20 dashboards, in one run.

    python -m bench.dashboard      # target: p99 with 20 dashboards within 10 % of p99 with none

A dashboard is what the page does while open (wamulti/web/dashboard/static/js/main.js): every 2 s
(+-10 %, its first poll at a random moment), on one keep-alive connection with its session cookie,
GET /api/dashboard with If-None-Match (304 while nothing changed); in the conversations and
deliveries views also GET /api/events?after=<cursor>, one after the other. Both are measured: 20
pages on the main (accounts) view, and 20 on the conversations view. Ten READY simulator
clients; a background sender keeps events coming (a text every 0.5 s, each with its acks), so the
dashboards' event polls carry data. A prober asks GET /api/clients/<id> every 10 ms on its own
connection. Phases with 0 and 20 dashboards alternate (ROUNDS each, PHASE_SECONDS long: this machine's
speed drifts within minutes, the order must favour neither); the figures pool each kind's phases.
Threads: waitress's request threads (HTTP_THREADS, 8) the dashboards held on average = the sum of
their requests' durations over the wall time, and the most requests of theirs under way at once.
Store: embedded SQLite.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ServerProcess, cpu_seconds, report
from tests.server_process import API_KEY

CLIENTS, DASHBOARDS, POLL_SECONDS, PROBE_EVERY = 10, 20, 2.0, 0.01
ROUNDS, PHASE_SECONDS = 8, 8.0  # short phases, many rounds: the machine's other load hits each kind alike
ENV = {"SIM_PAIR_DELAY": "0.05", "SIM_SEND_DELAY": "0", "SIM_READ_DELAY": "1", "LOG_LEVEL": "WARNING"}


class Connection:
    """One keep-alive connection; request() answers (status, headers, body, seconds)."""

    def __init__(self, port: int, headers: dict):
        self.port, self.headers = port, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = None if body is None else json.dumps(body)
        hdrs = {**self.headers, **(headers or {}), **({"Content-Type": "application/json"} if data else {})}
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        return resp.status, dict(resp.getheaders()), payload, time.perf_counter() - started


def sign_in(port: int) -> str:
    status, headers, _, _ = Connection(port, {}).request("POST", "/dashboard/session", {"key": API_KEY})
    assert status == 200, status
    return headers["Set-Cookie"].split(";")[0]


class Dashboard(threading.Thread):
    """The page's poll loop, with its own session; polls while `active` is set; records each request's
    duration."""

    def __init__(self, port: int, stop: threading.Event, busy: "Busy", events: bool):
        super().__init__(daemon=True)
        self.events = events  # the conversations and deliveries views also poll the event log
        self.conn = Connection(port, {"Cookie": sign_in(port)})
        self.stop, self.busy, self.active = stop, busy, threading.Event()
        self.etag, self.cursor, self.polls, self.not_modified = None, None, 0, 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.active.wait(0.5)
            if not self.active.is_set():
                continue
            self.stop.wait(random.uniform(0, POLL_SECONDS))  # pages are opened at different moments
            while self.active.is_set() and not self.stop.is_set():
                started = time.monotonic()
                self.poll()
                # the page's own jitter (main.js): polls of pages opened together drift apart
                self.stop.wait(max(0.0, POLL_SECONDS * random.uniform(0.9, 1.1) - (time.monotonic() - started)))

    def poll(self) -> None:
        status, headers, _, _ = self.busy.timed(self.conn.request, "GET", "/api/dashboard",
                                                headers={"If-None-Match": self.etag} if self.etag else {})
        self.not_modified += status == 304
        self.etag = headers.get("ETag", self.etag)
        if self.events:
            after = f"&after={self.cursor}" if self.cursor else ""
            _, _, body, _ = self.busy.timed(self.conn.request, "GET", f"/api/events?limit=1000{after}")
            events = json.loads(body)["events"]
            self.cursor = events[-1]["id"] if events else self.cursor
        self.polls += 1


class Busy:
    """The dashboards' requests under way: their summed durations and the most at once."""

    def __init__(self):
        self.lock, self.now, self.most, self.seconds = threading.Lock(), 0, 0, 0.0

    def reset_most(self) -> int:
        with self.lock:
            self.most = self.now
            return self.most

    def timed(self, call, *args, **kwargs):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            answer = call(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1
        with self.lock:
            self.seconds += answer[3]
        return answer


def sender(port: int, stop: threading.Event) -> None:
    conn = Connection(port, {"x-api-key": API_KEY})
    n = 0
    while not stop.wait(0.5):
        a, b = n % CLIENTS, (n + 1) % CLIENTS
        conn.request("POST", "/api/messages/send", {"clientId": f"c{a}", "to": f"+49151000000{b:02d}",
                                                    "text": f"bench {n}", "wait": False})
        n += 1


def probe(port: int, seconds: float) -> list[float]:
    conn = Connection(port, {"x-api-key": API_KEY})
    samples, deadline, n = [], time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        status, _, _, took = conn.request("GET", f"/api/clients/c{n % CLIENTS}")
        assert status == 200, status
        samples.append(took * 1000)
        n += 1
        time.sleep(PROBE_EVERY)
    return samples


def phase(server: ServerProcess, pages: list[Dashboard], busy: "Busy") -> dict:
    for page in pages:
        page.active.set()
    time.sleep(POLL_SECONDS + 0.5 if pages else 0.0)  # every page polling (and caught up) before probing
    cpu0, wall0, busy0, most0 = cpu_seconds(server.proc.pid), time.monotonic(), busy.seconds, busy.reset_most()
    polls0, not_modified0 = sum(p.polls for p in pages), sum(p.not_modified for p in pages)
    samples = probe(server.port, PHASE_SECONDS)
    wall = time.monotonic() - wall0
    result = {"samples": samples, "cpu": cpu_seconds(server.proc.pid) - cpu0, "wall": wall,
              "threads_mean": (busy.seconds - busy0) / wall, "threads_most": busy.most,
              "polls": sum(p.polls for p in pages) - polls0, "not_modified": sum(p.not_modified for p in pages) - not_modified0}
    for page in pages:
        page.active.clear()
    time.sleep(0.5 if pages else 0.0)  # their last requests end
    return result


def quantile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=1000)[int(q * 1000) - 1]


def summary(kind: str, phases: list[dict]) -> dict:
    samples = [s for p in phases for s in p["samples"]]
    wall = sum(p["wall"] for p in phases)
    polls = sum(p["polls"] for p in phases)
    return {"dashboards": kind, "probes": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(quantile(samples, 0.99), 2), "max_ms": round(max(samples), 1),
            "server_cpu_pct": round(100 * sum(p["cpu"] for p in phases) / wall, 1),
            "threads_mean": round(sum(p["threads_mean"] * p["wall"] for p in phases) / wall, 3),
            "threads_most": max(p["threads_most"] for p in phases),
            "overview_304_pct": round(100 * sum(p["not_modified"] for p in phases) / polls, 1) if polls else "-"}


def main() -> None:
    server = ServerProcess(Path(tempfile.mkdtemp(prefix="bench-dash-")) / "data", ENV).start()
    try:
        for i in range(CLIENTS):
            server.request("POST", "/api/clients", {"clientId": f"c{i}", "phone": f"+49151000000{i:02d}"})
        server.wait_all_ready(CLIENTS)
        stop = threading.Event()
        threading.Thread(target=sender, args=(server.port, stop), daemon=True).start()
        time.sleep(3)
        busy = Busy()
        kinds = {"0": [], f"{DASHBOARDS} accounts view": [Dashboard(server.port, stop, busy, False) for _ in range(DASHBOARDS)],
                 f"{DASHBOARDS} conversations view": [Dashboard(server.port, stop, busy, True) for _ in range(DASHBOARDS)]}
        for page in (p for pages in kinds.values() for p in pages):
            page.start()
        results: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for _ in range(ROUNDS):
            for kind, pages in kinds.items():
                results[kind].append(phase(server, pages, busy))
        stop.set()
        rows = [summary(kind, phases) for kind, phases in results.items()]
        ratios = {f"p99_ratio_{row['dashboards'].replace(' ', '_')}_vs_0": round(row["p99_ms"] / rows[0]["p99_ms"], 3)
                  for row in rows[1:]}
        report("dashboard", rows, {**ratios, "http_threads": 8, "rounds": ROUNDS, "phase_seconds": PHASE_SECONDS})
    finally:
        server.close()


if __name__ == "__main__":
    main()
