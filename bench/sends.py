"""Sending at scale: 100 READY simulator clients, SIM_SEND_DELAY=0.3, 3,000 sends through the API, in one run.

    python -m bench.sends      # targets: >= 300 sends completed/s, >= 1,000 accepted/s with wait:false,
                               # p99 of GET /api/clients/<id> during the run <= 50 ms

After: this tree, callers send with `"wait": false` (16 keep-alive callers); completed/s counts from
the first accept to the last `sentAt`. The same server first answers the same 3,000 bodies on a
bare endpoint of its stack (waitress, Flask, auth, JSON parsing, no registry: bench/bare_server.py),
with the same callers: the ceiling an accept is read against (accept_ratio), since the callers and
the server share the machine's cores; server CPU per request of both is shown too, and this process's
(bench_cpu_ms_*: the callers, and the prober during the accepts), the callers' share of the cores.
Before: the seed (commit BEFORE, unpacked with `git archive`) on the same machine in the same run,
its simulator given the same 0.3 s send delay, 16 callers each waiting for its send (the seed's only
mode), for BEFORE_SENDS sends. Each chat (one recipient per client, off the simulated network) takes
its messages one at a time: 100 chats x 1/0.3 s is the per-chat order bound (333/s). The rate cap is
off (SEND_RATE_PER_MINUTE=0). Store: embedded SQLite.

    python -m bench.sends --base REV   # also the queue of commit REV (unpacked with `git archive`), same
                                       # method as after, in the same run: a change's before/after
    python -m bench.sends --mariadb    # each queue run (after, and --base's) also on a throwaway MariaDB
    python -m bench.sends --base REV --rounds 3   # base and after alternate, 3 rounds (this machine's
                                       # speed drifts within minutes: the order must not favour either)
    python -m bench.sends --seams none,channel   # after also with these parts of wamulti/seams/waitress_internals.py
                                       # (`none`: waitress's public interface only), in the same rounds
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from bench.common import ROOT, ServerProcess, cpu_seconds, report, start_mariadb

BEFORE = "d483481"  # main before the queue: every send holds a request thread
CLIENTS, SENDS, BEFORE_SENDS, CALLERS = 100, 3000, 600, 16
ENV = {"SIM_SEND_DELAY": "0.3", "SEND_RATE_PER_MINUTE": "0", "SIM_PAIR_DELAY": "0.05", "LOG_LEVEL": "WARNING",
       "SIM_READ_DELAY": "1"}
# the seed's simulator could only be given a send delay in code: this entry point does it
# (a --base tree from before the folder per concept has the simulator at wamulti/backends/simulator.py)
SEED_ENTRY = ("import sys\n"
              "try:\n    from wamulti.backends.simulator.sim_backend import SimulatorBackend as S\n"
              "except ImportError:\n    from wamulti.backends.simulator import SimulatorBackend as S\n"
              "S.from_settings = classmethod(lambda c, s: c(s.sim_connect_delay, s.sim_pair_delay, s.sim_sync_delay, "
              "s.sim_read_delay, frozenset(s.sim_not_on_whatsapp), 0.3))\n"
              "from wamulti.server import main; sys.exit(main())")


class SeedServer(ServerProcess):
    """The seed's code from `root`, started through SEED_ENTRY."""

    def __init__(self, root: Path, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root = root

    def start(self, timeout: float = 30.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-c", SEED_ENTRY], cwd=self.root, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: self._answers(), timeout, "seed server up")
        return self

    def _answers(self) -> bool:
        try:
            return self.request("GET", "/healthz", key=None, timeout=2).status == 200
        except OSError:
            return False


class BareStackServer(ServerProcess):
    """The tree's real server plus its bare endpoint (bench/bare_server.py), started from `root`."""

    def start(self, timeout: float = 30.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.bare_server"], cwd=self.root, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: self._answers(), timeout, "server up")
        return self

    def _answers(self) -> bool:
        try:
            return self.request("GET", "/healthz", key=None, timeout=2).status in (200, 503)
        except OSError:
            return False


def unpack(rev: str, into: Path) -> Path:
    into.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def make_clients(server: ServerProcess) -> None:
    for n in range(CLIENTS):
        resp = server.request("POST", "/api/clients", {"clientId": f"c{n:03d}", "phone": f"+3162000{n:04d}"})
        assert resp.status == 201, resp
    server.wait_all_ready(CLIENTS, timeout=120)


def bodies(count: int, wait: bool) -> list[bytes]:
    return [json.dumps({"clientId": f"c{i % CLIENTS:03d}", "to": f"+4930000{i % CLIENTS:05d}", "text": f"m{i}",
                        **({} if wait else {"wait": False})}).encode() for i in range(count)]


def post_all(server: ServerProcess, payloads: list[bytes], path: str = "/api/messages/send"
             ) -> tuple[float, list[dict], int]:
    """CALLERS keep-alive callers post every payload once: (seconds, answers, errors)."""
    answers: list[dict] = []
    errors = [0]
    lock = threading.Lock()
    headers = {"x-api-key": server.env["API_KEY"], "Content-Type": "application/json"}

    def caller(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for body in payloads[n::CALLERS]:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            with lock:
                if resp.status in (200, 202):
                    answers.append(json.loads(data))
                else:
                    errors[0] += 1
        conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=caller, args=(n,)) for n in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - began, answers, errors[0]


class Prober(threading.Thread):
    """GET /api/clients/<id> every 20 ms while the run lasts; latencies in seconds."""

    def __init__(self, server: ServerProcess):
        super().__init__(daemon=True)
        self.server, self.latencies, self.stop = server, [], threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            began = time.perf_counter()
            self.server.request("GET", f"/api/clients/c{n % CLIENTS:03d}")
            self.latencies.append(time.perf_counter() - began)
            n += 1
            self.stop.wait(0.02)

    def p99_ms(self) -> float:
        return round(statistics.quantiles(self.latencies, n=100)[98] * 1000, 1)


def completed_at(server: ServerProcess, message_id: str) -> float | None:
    row = server.request("GET", f"/api/messages/{message_id}").json
    if row["status"] in ("queued", "sending"):
        return None
    return datetime.fromisoformat(row["sentAt"].replace("Z", "+00:00")).timestamp() if row["sentAt"] else 0.0


def run_after(tmp: Path, base: str | None = None, db: dict | None = None, round_no: int = 0,
              seams: str | None = None) -> dict:
    """This tree's queue, or (`base`) commit base's; on SQLite, or on the database of `db` (DB_* settings);
    `seams`: the parts of wamulti/seams/waitress_internals.py this tree's server uses instead of its default."""
    env = {**ENV, **(db or {}), **({"BENCH_WAITRESS_SEAMS": seams} if seams else {})}
    label = f"{base or 'after'}{f' seams={seams}' if seams else ''}"
    name = f"{label.replace(' ', '-').replace('=', '-').replace(',', '+')}-{'mariadb' if db else 'sqlite'}-{round_no}"
    server = BareStackServer(tmp / name, env)
    if base is not None:  # another commit's tree, unpacked once
        tree = tmp / f"tree-{base}"
        server.root = tree if tree.exists() else unpack(base, tree)
    server.start()
    try:
        make_clients(server)
        payloads = bodies(SENDS, wait=False)
        bare = timed(server, lambda: post_all(server, payloads, "/api/bench/bare"))
        prober = Prober(server)
        prober.start()
        began_wall = time.time()
        (seconds, answers, errors), accept_cpu, accept_own = timed(server, lambda: post_all(server, payloads))
        done = wait_done(server, answers)
        prober.stop.set()
        prober.join()
        (bare_seconds, bare_answers, _), bare_cpu, bare_own = bare
        accepted, ceiling = len(answers) / seconds, len(bare_answers) / bare_seconds
        return {"run": f"{label} (queue, wait:false, {'MariaDB' if db else 'SQLite'})",
                "sends": len(answers), "errors": errors, "bare_per_s": round(ceiling, 1),
                "accepted_per_s": round(accepted, 1), "accept_ratio": round(accepted / ceiling, 2),
                "completed_per_s": round(len(answers) / (done - began_wall), 1),
                "get_client_p99_ms": prober.p99_ms(),
                "server_cpu_ms_bare": round(bare_cpu * 1000 / len(payloads), 2),
                "server_cpu_ms_accept": round(accept_cpu * 1000 / len(payloads), 2),
                "bench_cpu_ms_bare": round(bare_own * 1000 / len(payloads), 2),
                "bench_cpu_ms_accept": round(accept_own * 1000 / len(payloads), 2)}
    finally:
        server.close()


def timed(server: ServerProcess, work):
    """(work(), the server's CPU seconds meanwhile, this process's: the callers' share of the cores)."""
    before, own = cpu_seconds(server.proc.pid), time.process_time()
    result = work()
    return result, cpu_seconds(server.proc.pid) - before, time.process_time() - own


def wait_done(server: ServerProcess, answers: list[dict]) -> float:
    """When the last send went out (wall clock): one chat per client, so the last per chat is the last."""
    last_per_chat = {a["to"]: a["messageId"] for a in answers}
    server.wait_for(lambda: all(completed_at(server, i) is not None for i in last_per_chat.values()), 120,
                    "every send done")
    return max(completed_at(server, i) for i in last_per_chat.values())


def run_before(tmp: Path) -> dict:
    server = SeedServer(unpack(BEFORE, tmp / "seed"), tmp / "before", ENV).start()
    try:
        make_clients(server)
        prober = Prober(server)
        prober.start()
        seconds, answers, errors = post_all(server, bodies(BEFORE_SENDS, wait=True))
        prober.stop.set()
        prober.join()
        return {"run": f"before ({BEFORE}, waiting sends)", "sends": len(answers), "errors": errors,
                "bare_per_s": "", "accepted_per_s": round(len(answers) / seconds, 1), "accept_ratio": "",
                "completed_per_s": round(len(answers) / seconds, 1), "get_client_p99_ms": prober.p99_ms(),
                "server_cpu_ms_bare": "", "server_cpu_ms_accept": "", "bench_cpu_ms_bare": "",
                "bench_cpu_ms_accept": ""}
    finally:
        server.close()


def on_mariadb(tmp: Path, base: str | None) -> list[dict]:
    """The queue runs again on a throwaway MariaDB (a fresh database each)."""
    mariadb = start_mariadb()
    try:
        return [run_after(tmp, b, mariadb.env(mariadb.new_database())) for b in ([base] if base else []) + [None]]
    finally:
        mariadb.destroy()


def alternating(tmp: Path, base: str | None, rounds: int, seams: list[str] = ()) -> list[dict]:
    """The queue runs: `base`, after and after with each of `seams` in turn, forwards in one round and
    backwards in the next."""
    rows = []
    for n in range(max(rounds, 1)):
        order = ([(base, None)] if base else []) + [(None, None)] + [(None, s) for s in seams]
        for rev, parts in order if n % 2 == 0 else order[::-1]:
            row = run_after(tmp, rev, round_no=n, seams=parts)
            rows.append({**row, "run": row["run"] + (f" round {n + 1}" if rounds > 1 else "")})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="also measure the queue of this commit, the same way, in the same run")
    parser.add_argument("--mariadb", action="store_true", help="also run the queue runs on MariaDB")
    parser.add_argument("--rounds", type=int, default=1, help="queue runs of --base and after, alternating order")
    parser.add_argument("--seams", default="", help="comma-separated variants of wamulti/seams/waitress_internals.py's parts "
                        "to run after with as well ('none', 'channel', 'channel+passes'), same rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wamulti-bench-sends-") as tmp:
        variants = [v for v in args.seams.split(",") if v]
        rows = [run_before(Path(tmp))] + alternating(Path(tmp), args.base, args.rounds, variants)
        if args.mariadb:
            rows += on_mariadb(Path(tmp), args.base)
    report("sends", rows, {"clients": CLIENTS, "sim_send_delay_s": 0.3, "callers": CALLERS,
                           "targets": ">= 300 completed/s, >= 1,000 accepted/s, p99 GET client <= 50 ms",
                           "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()), "cores": os.cpu_count()})


if __name__ == "__main__":
    main()
