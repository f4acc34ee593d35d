"""The cluster drill, short (bench/cluster.py runs it in full): three real server processes
(CLUSTER=on, simulator) on the suite's MariaDB; a shared census counts every moment an account is
connected from two instances and every message that went out twice (both must stay 0); and the
self-fence when the database goes away, on a MariaDB of the test's own."""

from __future__ import annotations

import threading
import time

import pytest

from bench.cluster_drill import Cluster, SendLoad, settle
from tests.mariadb import MariaDB
from tests.test_metrics import scrape, value

CLIENTS = 24
SENDS = 300


@pytest.fixture
def cluster(mariadb, tmp_path):
    cluster = Cluster(mariadb, tmp_path, CLIENTS, env={"SIM_SEND_DELAY": "0.1"})  # sends under way at the kill
    cluster.seed()
    cluster.start(0, 1, 2)
    yield cluster
    cluster.close()


def test_sigkill_fails_over_within_45_s_and_sigterm_hands_over_in_seconds(cluster):
    cluster.wait_ready(60)
    spread = cluster.ready_by_instance()
    share = CLIENTS // 3
    assert len(spread) == 3 and all(abs(n - share) <= share // 10 + 1 for n in spread.values()), spread

    killed: dict[str, float] = {}
    lock = threading.Lock()

    def kill_one_third_in(n: int) -> None:
        with lock:
            if n >= SENDS // 3 and not killed:
                killed["lag"] = cluster.snapshot_lag(2)
                cluster.kill(2)
                killed["at"] = time.monotonic()

    load = SendLoad(cluster)
    load.run(SENDS, callers=6, on_progress=kill_one_third_in)
    cluster.wait_ready(45)
    failover = time.monotonic() - killed["at"]
    assert failover <= 45
    after = cluster.ready_by_instance()
    assert len(after) == 2
    samples = scrape(cluster.servers[0])  # each instance's metrics are its own clients and leases
    mine = after[cluster.instance_id(0)]
    assert value(samples, "wamulti_cluster_leases_held") == mine == value(samples, "wamulti_clients", state="READY")
    assert value(samples, "wamulti_cluster_lease_renewal_age_seconds") < 10

    sends = settle(cluster, load, timeout=60)
    assert sends["accepted"] == SENDS and not sends["refused"], sends
    assert sends["sent"] + sends.get("failed: outcome_unknown", 0) == SENDS, sends
    assert sends["sent_twice"] == 0 and sends["chats_out_of_order"] == 0, sends

    stopping = cluster.terminate(1)
    handed_over = cluster.wait_ready(15, poll=0.2)
    assert stopping + handed_over < 10
    assert cluster.census.doubles == []
    print(f"\nspread {dict(spread)}; failover {failover:.1f}s (snapshot lag {killed['lag']}s); SIGTERM stop "
          f"{stopping:.1f}s + READY elsewhere {handed_over:.1f}s; sends {sends}; "
          f"double connections {len(cluster.census.doubles)}")


@pytest.fixture
def own_mariadb():
    """A MariaDB of this test's own: it is stopped for a while, which the suite's shared one must not be."""
    server = MariaDB()
    if server.mariadbd is None or server.install_db is None:
        pytest.skip("mariadbd is not installed (./scripts/test installs it)")
    try:
        server.install()
        server.start()
        server.setup_user()
        yield server
    finally:
        server.destroy()


def test_with_the_database_gone_every_instance_lets_go_before_its_leases_expire(own_mariadb, tmp_path):
    cluster = Cluster(own_mariadb, tmp_path, 10, instances=2)
    try:
        cluster.seed()
        cluster.start(0, 1)
        cluster.wait_ready(60)
        assert cluster.census.wait_connected(10, timeout=30) == 10  # READY in the store; the census may lag
        own_mariadb.stop()
        stopped = time.monotonic()
        while cluster.census.connected() and time.monotonic() - stopped < 15:  # the leases end at 15 s
            time.sleep(0.1)
        let_go = time.monotonic() - stopped
        assert cluster.census.connected() == 0 and let_go < 12.5  # self-fenced 10 s after the last renewal
        time.sleep(max(0.0, 16 - let_go))  # past every lease's expiry
        own_mariadb.start()
        back = cluster.wait_ready(60)
        assert cluster.census.doubles == []
        print(f"\nall let go {let_go:.1f}s after the database stopped; READY {back:.1f}s after it returned")
    finally:
        cluster.close()
