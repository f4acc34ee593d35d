"""Outage economy: 1,000 paired neonize clients through a network outage, then its end.

A real server (`WA_BACKEND=neonize`) whose HTTPS_PROXY is a loopback proxy this benchmark controls
(tests/loopback_proxy.py). Each client is stored paired (a jid) with a copy of one session file the
real library made, so it dials in the server process. The proxy first answers every CONNECT with
502 (the outage); RSS, descriptors, threads, CPU and the clients' states are sampled every few
seconds. Then the proxy tunnels again to an endpoint that reads the TLS ClientHello and closes (the
network is back, WhatsApp's handshake fails at once), and each client's first dial after that
moment is read from the API: its `lastError` leaves `waiting_for_network: ...` when it has dialled.

    python -m bench.outage                        # 1,000 clients, 15 min of outage (the target)
    python -m bench.outage --clients 100 --outage 120 --warmup 30   # a quick run
    python -m bench.outage --clients 20 --outage 40 --warmup 20 --back tunnel_hang  # dials that hang

Pass: RSS and descriptors grow < 5 % after the warm-up (2 min), no client CLOSED, and every client
dialled within 90 s of the network's return.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import ROOT, ServerProcess, cpu_seconds, report, rss_mb
from tests.loopback_proxy import LoopbackProxy
from wamulti.store.store_api import ClientRecord
from wamulti.store.sqlite_store import SQLiteStore

DEAD_PROXY = "http://127.0.0.1:9"
MAKE_SESSION = """
import sys
from pathlib import Path
from wamulti.config import Settings
from wamulti.backends.neonize.neonize_backend import NeonizeBackend
from wamulti.backends.backend_api import ConnectFailed
path = Path(sys.argv[1])
backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=path.parent, log_level="ERROR"))
session = backend.new_session("maker", path, lambda event: None)
try:
    session.connect()  # fails at the dead loopback proxy; the library has created its tables by then
except ConnectFailed:
    pass
session.stop()
"""


def offline_env(proxy_url: str) -> dict:
    return {"HTTPS_PROXY": proxy_url, "HTTP_PROXY": proxy_url, "NO_PROXY": "", "no_proxy": ""}


def seed(data: Path, clients: int) -> None:
    """Paired client rows and, per client, a copy of one session file the real library accepts."""
    sessions = data / "sessions"
    sessions.mkdir(parents=True)
    source = data / "source.session"
    env = {**os.environ, **offline_env(DEAD_PROXY), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", MAKE_SESSION, str(source)], env=env, cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    for i in range(clients):
        shutil.copyfile(source, sessions / f"o{i:04d}.session")
    source.unlink()
    store = SQLiteStore(data)
    store.save_clients([ClientRecord(f"o{i:04d}", "READY", phone=f"4915{i:08d}", jid=f"4915{i:08d}@s.whatsapp.net")
                        for i in range(clients)])
    store.close()


def reading(server: ServerProcess, started: float, proxy: LoopbackProxy) -> dict:
    pid = server.proc.pid
    status = Path(f"/proc/{pid}/status").read_text()
    threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    clients = server.clients()
    states = Counter(c["state"] for c in clients)
    waiting = sum(1 for c in clients if (c["lastError"] or "").startswith("waiting_for_network"))
    return {"t_s": round(time.monotonic() - started), "rss_mb": round(rss_mb(pid), 1),
            "fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": threads, "cpu_s": round(cpu_seconds(pid), 2),
            "connecting": states.get("CONNECTING", 0), "closed": states.get("CLOSED", 0), "waiting": waiting,
            "proxy_connects": proxy.count()}


def sample_outage(server: ServerProcess, proxy: LoopbackProxy, seconds: float, every: float) -> list[dict]:
    started, samples = time.monotonic(), []
    while True:
        samples.append(reading(server, started, proxy))
        if len(samples) % max(1, round(60 / every)) == 1:
            print("outage:", samples[-1], flush=True)
        left = seconds - (time.monotonic() - started)
        if left <= 0:
            return samples
        time.sleep(min(every, left))


def growth(samples: list[dict], warmup: float, key: str) -> float:
    """Largest rise after the warm-up, relative to the first reading after it."""
    after = [s[key] for s in samples if s["t_s"] >= warmup]
    return (max(after) - after[0]) / after[0] if len(after) > 1 else 0.0


def watch_return(server: ServerProcess, proxy: LoopbackProxy, mode: str, limit: float) -> tuple[dict, int]:
    """Open the endpoint; per client, seconds until its lastError shows a dial (polled each second)."""
    waiting = {c["clientId"] for c in server.clients() if (c["lastError"] or "").startswith("waiting_for_network")}
    opened = proxy.switch(mode)
    dialled: dict[str, float] = {}
    while len(dialled) < len(waiting) and time.monotonic() - opened < limit + 30:
        time.sleep(1.0)
        now = time.monotonic() - opened
        for c in server.clients():
            if c["clientId"] in waiting and c["clientId"] not in dialled and \
                    not (c["lastError"] or "").startswith("waiting_for_network"):
                dialled[c["clientId"]] = now
    return {cid: dialled.get(cid) for cid in waiting}, proxy.count(since=opened)


def run(clients: int, outage: float, warmup: float, every: float, back: str = "tunnel_eof",
        limit: float = 90.0) -> dict:
    """The whole scenario; returns its readings and verdicts (tests/test_outage.py runs it small)."""
    proxy = LoopbackProxy("bad_gateway")
    with tempfile.TemporaryDirectory(prefix="wamulti-outage-") as tmp:
        data = Path(tmp) / "data"
        seed(data, clients)
        server = ServerProcess(data, {"WA_BACKEND": "neonize", **offline_env(proxy.url)})
        try:
            server.start(timeout=120)
            samples = sample_outage(server, proxy, outage, every)
            outage_connects = proxy.count()
            delays, back_connects = watch_return(server, proxy, back, limit)
            after = reading(server, 0.0, proxy)
        finally:
            server.close()
            proxy.close()
    return verdict(samples, warmup, delays, limit, outage_connects, back_connects, after, clients)


def verdict(samples, warmup, delays, limit, outage_connects, back_connects, after, clients) -> dict:
    known = sorted(d for d in delays.values() if d is not None)
    slowest = known[-1] if len(known) == len(delays) and known else None
    result = {"clients": clients, "samples": samples, "rss_growth": round(growth(samples, warmup, "rss_mb"), 4),
              "fds_growth": round(growth(samples, warmup, "fds"), 4),
              "closed_max": max(s["closed"] for s in samples + [after]),
              "waiting_at_return": len(delays), "dialled": len(known), "slowest_dial_s": slowest,
              "median_dial_s": known[len(known) // 2] if known else None,
              "proxy_connects_during_outage": outage_connects, "proxy_connects_after_return": back_connects,
              "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    result["flat"] = result["rss_growth"] < 0.05 and result["fds_growth"] < 0.05
    result["all_dialled_in_time"] = slowest is not None and slowest <= limit and len(delays) == clients
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=900.0, help="seconds of outage")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds before readings must be flat")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between readings")
    parser.add_argument("--back", choices=("tunnel_eof", "tunnel_hang"), default="tunnel_eof",
                        help="what the proxy does when the network is back")
    args = parser.parse_args()
    result = run(args.clients, args.outage, args.warmup, args.every, args.back)
    notes = {k: v for k, v in result.items() if k != "samples"}
    notes.update(target="growth < 5 % after the warm-up, 0 CLOSED, every client dialled within 90 s",
                 met=result["flat"] and result["closed_max"] == 0 and result["all_dialled_in_time"],
                 back=args.back, outage_s=args.outage, warmup_s=args.warmup)
    report("outage" if args.back == "tunnel_eof" else f"outage_{args.back}", result["samples"], notes)


if __name__ == "__main__":
    main()
