"""API overhead: POST /api/messages/send (simulator, READY clients) against a bare endpoint on the
same waitress/Flask stack with the same auth, 16 concurrent callers on loopback, in one run.

    python -m bench.api_overhead      # target: send/bare requests-per-second ratio >= 0.6
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ROOT, ServerProcess, report

CALLERS = 16
SECONDS = 10.0
CLIENTS = 10


class BareServer(ServerProcess):
    def start(self, timeout: float = 30.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.bare_server"], cwd=ROOT, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: self._answers(), timeout, "server up")
        return self

    def _answers(self) -> bool:
        try:
            return self.request("GET", "/healthz", key=None, timeout=2).status == 200
        except OSError:
            return False


def load(port: int, path: str, bodies: list[bytes], seconds: float, key: str) -> tuple[int, list[float], int]:
    """CALLERS threads on keep-alive connections for `seconds`; returns (ok count, latencies, errors)."""
    latencies: list[list[float]] = [[] for _ in range(CALLERS)]
    errors = [0] * CALLERS
    end = time.monotonic() + seconds
    headers = {"x-api-key": key, "Content-Type": "application/json"}

    def caller(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = n
        while time.monotonic() < end:
            body = bodies[i % len(bodies)]
            i += CALLERS
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                latencies[n].append(time.perf_counter() - t0)
            else:
                errors[n] += 1
        conn.close()

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for lat in latencies for x in lat]
    return len(flat), flat, sum(errors)


def row(name: str, ok: int, lat: list[float], errors: int, seconds: float) -> dict:
    q = statistics.quantiles(lat, n=100)
    return {"endpoint": name, "requests_per_s": round(ok / seconds, 1), "p50_ms": round(q[49] * 1000, 2),
            "p99_ms": round(q[98] * 1000, 2), "errors": errors}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
        server = BareServer(Path(tmp) / "data", {"SIM_PAIR_DELAY": "0.2", "LOG_LEVEL": "WARNING"}).start()
        try:
            for i in range(CLIENTS):
                assert server.request("POST", "/api/clients", {"clientId": f"s{i}", "phone": f"+4915100{i:05d}"}).status == 201
            server.wait_all_ready(CLIENTS)
            sends = [json.dumps({"clientId": f"s{i % CLIENTS}", "to": "+44 7700 900123",
                                 "text": f"benchmark message {i} 👋"}).encode() for i in range(100)]
            bare = sends  # the same bodies, so parsing costs the same
            key = server.env["API_KEY"]
            load(server.port, "/api/bench/bare", bare, 2, key)  # warm-up
            load(server.port, "/api/messages/send", sends, 2, key)
            rows = [row("bare", *load(server.port, "/api/bench/bare", bare, SECONDS, key), SECONDS),
                    row("send", *load(server.port, "/api/messages/send", sends, SECONDS, key), SECONDS)]
        finally:
            server.close()
    ratio = rows[1]["requests_per_s"] / rows[0]["requests_per_s"]
    report("api_overhead", rows, {"callers": CALLERS, "send_to_bare_ratio": round(ratio, 3),
                                  "target": ">= 0.6", "met": ratio >= 0.6})


if __name__ == "__main__":
    main()
