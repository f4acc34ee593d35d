"""The cluster drill's parts (bench/cluster.py runs them in full, tests/test_cluster_failover.py short):
instances as real server processes (CLUSTER=on, WA_BACKEND=simulator) on one MariaDB, the shared
census of simulated connections (bench/connection_census.py), a round-robin caller of all live
instances (as a load balancer), and the checks of the sends.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import ServerProcess
from bench.connection_census import ConnectionCensus
from bench.restore import seed
from wamulti.store import open_store

OPEN = ("queued", "sending")
SENT = ("sent", "server", "delivered", "read")


class Cluster:
    """Instances 0..n-1, each with its DATA_DIR under `root`; a restarted one keeps its DATA_DIR (its id)."""

    def __init__(self, mariadb, root: Path, count: int, instances: int = 3, env: dict | None = None):
        self.mariadb, self.root, self.count = mariadb, root, count
        self.database = mariadb.new_database()
        self.census = ConnectionCensus()
        self.env = {**mariadb.env(self.database), "CLUSTER": "on", "SIM_REGISTRY": self.census.address,
                    "LOG_LEVEL": "INFO", **(env or {})}
        self.servers: list[ServerProcess | None] = [None] * instances
        self._turn = 0
        self._ids: dict[int, str] = {}

    def seed(self) -> None:
        """`count` paired clients r0000.., stored with their snapshots (as bench.restore does)."""
        store = open_store(self.mariadb.settings(self.database))
        seed(store, self.count)
        store.close()

    def start(self, *slots: int) -> None:
        """Start instances at once (so that the first to start does not take every client)."""
        def one(slot: int) -> None:
            self.servers[slot] = ServerProcess(self.root / f"instance-{slot}", self.env).start(timeout=60)
        with ThreadPoolExecutor(len(slots)) as pool:
            list(pool.map(one, slots))

    def live(self) -> list[ServerProcess]:
        return [s for s in self.servers if s is not None and s.proc.poll() is None]

    def ask(self, method: str, path: str, body=None, timeout: float = 30.0, headers: dict | None = None):
        """One request as a round-robin load balancer sends it: the next live instance; one that refuses
        the connection (killed) is skipped, and the request goes to the next."""
        for _ in range(len(self.servers) * 2):
            servers = self.live()
            server = servers[self._turn % len(servers)]
            self._turn += 1
            try:
                return server.request(method, path, body, timeout=timeout, headers=headers)
            except OSError:
                continue
        raise AssertionError("no instance answered")

    def instance_id(self, slot: int) -> str:
        """The id of the instance in `slot` (its DATA_DIR's instance-id)."""
        return (self.root / f"instance-{slot}" / "instance-id").read_text().strip()

    def ready_by_instance(self) -> Counter:
        """READY clients per live instance id (a client shown READY on a dead instance does not count)."""
        live_ids = {self.instance_id(n) for n, s in enumerate(self.servers) if s in self.live()}
        clients = self.ask("GET", "/api/clients").json
        return Counter(c.get("instance") for c in clients if c["state"] == "READY" and c.get("instance") in live_ids)

    def wait_ready(self, timeout: float, poll: float = 0.5) -> float:
        """Seconds until every client is READY on a live instance (AssertionError after timeout)."""
        started = time.monotonic()
        while sum(self.ready_by_instance().values()) < self.count:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not all READY within {timeout}s: {dict(self.ready_by_instance())}")
            time.sleep(poll)
        return time.monotonic() - started

    def kill(self, slot: int) -> None:
        self.servers[slot].kill()

    def terminate(self, slot: int) -> float:
        code, seconds = self.servers[slot].terminate(timeout=60)
        assert code == 0, self.servers[slot].log()[-3000:]
        return seconds

    def snapshot_lag(self, slot: int) -> float:
        """The largest snapshot lag of the clients the instance runs (what a kill of it can lose)."""
        clients = self.servers[slot].clients()
        mine = self.instance_id(slot)
        return max((c["snapshotLagSeconds"] for c in clients if c.get("instance") == mine), default=0.0)

    def close(self) -> None:
        for server in self.servers:
            if server is not None:
                server.close()
        self.census.close()


class SendLoad:
    """Sends spread over the clients and a few chats each, round-robin over the instances, in order per
    chat (one caller per chat at a time); records each accepted message id in its chat's order."""

    def __init__(self, cluster: Cluster, name: str = "drill", chats_per_client: int = 2):
        self.cluster, self.name = cluster, name  # the name keeps each load's Idempotency-Keys its own
        self.chats = [(f"r{c:04d}", f"+49170{k:07d}") for c in range(cluster.count) for k in range(chats_per_client)]
        self.accepted: dict[tuple[str, str], list[str]] = {chat: [] for chat in self.chats}
        self.refused: Counter = Counter()
        self._locks = {chat: threading.Lock() for chat in self.chats}  # one send at a time per chat

    def run(self, total: int, callers: int = 8, on_progress=None) -> None:
        """Send `total` messages; on_progress(n) is called after each (a phase's trigger)."""
        counter = iter(range(total))
        def caller() -> None:
            for n in counter:
                self._send(self.chats[n % len(self.chats)], n)
                if on_progress is not None:
                    on_progress(n)
        threads = [threading.Thread(target=caller) for _ in range(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _send(self, chat: tuple[str, str], n: int) -> None:
        client, to = chat
        with self._locks[chat]:
            answer = self.cluster.ask("POST", "/api/messages/send",  # a retry on another instance: the same row
                                      {"clientId": client, "to": to, "text": f"m{n}", "wait": False},
                                      headers={"Idempotency-Key": f"{self.name}-{n}"})
            if answer.status in (200, 202):
                self.accepted[chat].append(answer.json["messageId"])
            else:
                self.refused[f"{answer.status} {answer.json.get('error')}"] += 1


def rows_of(cluster: Cluster) -> dict[str, tuple]:
    """message id -> (state, reason, sent_at) of every send, read from the database directly."""
    con = cluster.mariadb.root()
    try:
        with con.cursor() as cur:
            cur.execute(f"SELECT message_id, state, reason, sent_at FROM `{cluster.database}`.outbound")
            return {r[0]: r[1:] for r in cur.fetchall()}
    finally:
        con.close()


def settle(cluster: Cluster, load: SendLoad, timeout: float) -> dict:
    """Wait until no accepted send is open; then what became of them: sent, failed (by reason), lost
    (no row), still open, sent twice (the census), and chats whose sends went out in another order
    than they were accepted."""
    deadline = time.monotonic() + timeout
    rows = rows_of(cluster)
    while any(state in OPEN for state, _, _ in rows.values()) and time.monotonic() < deadline:
        time.sleep(1)
        rows = rows_of(cluster)
    outcome: Counter = Counter()
    out_of_order = 0
    for ids in load.accepted.values():
        times = []
        for mid in ids:
            state, reason, sent_at = rows.get(mid, ("lost", None, None))
            outcome["sent" if state in SENT else f"failed: {reason}" if state == "failed" else state] += 1
            if state in SENT:
                times.append(sent_at)
        out_of_order += any(b < a for a, b in zip(times, times[1:]))
    twice = sum(1 for n in cluster.census.sent.values() if n > 1)
    return {"accepted": sum(len(ids) for ids in load.accepted.values()), **outcome, "sent_twice": twice,
            "chats_out_of_order": out_of_order, "refused": dict(load.refused)}
