"""The cluster drill: three instances on one MariaDB share 300 simulator clients (CLUSTER=on).

    python -m bench.cluster                           # 300 clients, 3,000 sends (the issue's drill)
    python -m bench.cluster --clients 60 --sends 600  # a quick run

Phases, one run (every instance a real server process, WA_BACKEND=simulator with SIM_SEND_DELAY=0.3,
so that sends are under way when the kill comes; the processes report
every simulated connect, disconnect and send to one census, bench/connection_census.py):
1. start: the three start together; the spread once every client is READY (target 100 +- 10 each).
2. SIGKILL: 3,000 sends arrive round-robin at the instances' APIs (one Idempotency-Key each, so a
   caller's retry at another instance is the same send); at a third of them one instance is killed.
   Its clients must be READY on the others within 45 s; every send ends `sent` exactly once (the
   census) or `failed: outcome_unknown`; none lost; order per chat kept. The killed instance's largest
   snapshot lag just before the kill is what its clients could have lost.
3. MariaDB stopped 30 s: every instance self-fences 10 s after its last renewal; no account connected
   twice when it returns; all READY within 60 s after.
4. rolling restart: SIGTERM, start again, wait for all READY, one instance at a time, with sends
   arriving throughout: 0 lost, 0 double connections.
Figures: bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from bench.cluster_drill import Cluster, SendLoad, rows_of, settle
from bench.common import report, start_mariadb


def start_phase(cluster: Cluster) -> dict:
    started = time.monotonic()
    cluster.start(0, 1, 2)
    ready = cluster.wait_ready(180)
    spread = cluster.ready_by_instance()
    return {"phase": "start", "seconds": round(time.monotonic() - started, 1), "all_ready_s": round(ready, 1),
            "spread": sorted(spread.values()), "doubles": len(cluster.census.doubles)}


def kill_phase(cluster: Cluster, sends: int) -> dict:
    killed: dict[str, float] = {}
    lock = threading.Lock()

    def kill_at_a_third(n: int) -> None:
        with lock:
            if n >= sends // 3 and not killed:
                killed["lag"] = cluster.snapshot_lag(2)
                killed["sending"] = sum(1 for state, _, _ in rows_of(cluster).values() if state == "sending")
                cluster.kill(2)
                killed["at"] = time.monotonic()

    load = SendLoad(cluster, "kill")
    load.run(sends, callers=8, on_progress=kill_at_a_third)
    cluster.wait_ready(120)
    failover = time.monotonic() - killed["at"]
    outcome = settle(cluster, load, timeout=120)
    return {"phase": "SIGKILL during sends", "failover_s": round(failover, 1),
            "snapshot_lag_at_kill_s": killed["lag"], "sending_at_kill (all instances)": killed["sending"], "spread": sorted(cluster.ready_by_instance().values()),
            "doubles": len(cluster.census.doubles), **outcome}


def outage_phase(cluster: Cluster, seconds: float) -> dict:
    cluster.start(2)  # three again
    cluster.wait_ready(120)
    before = len(cluster.census.doubles)
    cluster.mariadb.stop()
    time.sleep(seconds)
    connected_at_end = cluster.census.connected()  # self-fenced: none
    cluster.mariadb.start()
    ready = cluster.wait_ready(120)
    return {"phase": f"MariaDB stopped {seconds:g} s", "connected_during_outage_end": connected_at_end,
            "all_ready_after_s": round(ready, 1), "doubles": len(cluster.census.doubles) - before}


def rolling_phase(cluster: Cluster, sends: int) -> dict:
    before = len(cluster.census.doubles)
    load = SendLoad(cluster, "rolling")
    sender = threading.Thread(target=load.run, args=(sends,), kwargs={"callers": 2})
    sender.start()
    stops = []
    for slot in range(3):
        stops.append(round(cluster.terminate(slot), 1))
        cluster.wait_ready(60)
        cluster.start(slot)
        cluster.wait_ready(120)
    sender.join()
    outcome = settle(cluster, load, timeout=120)
    return {"phase": "rolling restart (SIGTERM)", "stop_s": stops, "doubles": len(cluster.census.doubles) - before,
            **outcome}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--outage", type=float, default=30.0)
    args = parser.parse_args()
    mariadb = start_mariadb()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="wamulti-cluster-") as tmp:
            env = {"LOG_LEVEL": "WARNING", "SIM_SEND_DELAY": "0.3"}
            cluster = Cluster(mariadb, Path(tmp), args.clients, env=env)
            try:
                cluster.seed()
                rows.append(start_phase(cluster))
                rows.append(kill_phase(cluster, args.sends))
                rows.append(outage_phase(cluster, args.outage))
                rows.append(rolling_phase(cluster, args.sends // 3))
            finally:
                cluster.close()
    finally:
        mariadb.destroy()
    for row in rows:
        print(row)
    report("cluster", [], {"clients": args.clients, "sends": args.sends, "phases": rows,
                           "target": "spread 100 +- 10; failover <= 45 s; 0 lost, 0 sent twice, order kept; "
                                     "0 double connections; READY <= 60 s after the database returns"})


if __name__ == "__main__":
    main()
