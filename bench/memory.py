"""Server RSS with 0, 50 and 200 clients: neonize (offline, clients in backoff) and simulator (READY).

    python -m bench.memory            # target: <= 2 MB per additional neonize client at 200 clients
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import ServerProcess, report, rss_mb

COUNTS = (0, 50, 200)
SETTLE = 10.0  # seconds after the last client reached its steady state
LOOPBACK_PROXY = "http://127.0.0.1:9"


def measure(backend: str, count: int, base: Path) -> float:
    # dials go to a closed loopback "proxy": they fail at once and nothing leaves the machine
    env = {"WA_BACKEND": backend, "SIM_PAIR_DELAY": "0.2", "LOG_LEVEL": "WARNING",
           "HTTPS_PROXY": LOOPBACK_PROXY, "HTTP_PROXY": LOOPBACK_PROXY, "NO_PROXY": ""}
    server = ServerProcess(base / f"{backend}-{count}", env).start(timeout=60)
    try:
        for i in range(count):
            resp = server.request("POST", "/api/clients", {"clientId": f"m{i:03d}", "phone": f"+4915100{i:05d}"})
            assert resp.status == 201, resp
        if backend == "simulator":
            server.wait_all_ready(count, timeout=120)
        else:
            server.wait_for(lambda: all((c["lastError"] or "").startswith("connect_failed") for c in server.clients()),
                            120, "every client in backoff")
        time.sleep(SETTLE)  # let allocations settle; reading RSS is the measurement
        return rss_mb(server.proc.pid)
    finally:
        server.close()


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="wamulti-bench-") as tmp:
        for backend in ("neonize", "simulator"):
            readings = {n: measure(backend, n, Path(tmp)) for n in COUNTS}
            for n in COUNTS:
                per = (readings[n] - readings[0]) / n if n else 0.0
                rows.append({"backend": backend, "clients": n, "rss_mb": round(readings[n], 1),
                             "mb_per_client": round(per, 3)})
    neonize_200 = next(r for r in rows if r["backend"] == "neonize" and r["clients"] == 200)["mb_per_client"]
    report("memory", rows, {"target": "<= 2 MB per additional neonize client at 200",
                            "met": neonize_200 <= 2.0})


if __name__ == "__main__":
    main()
