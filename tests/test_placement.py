"""Placement: the share, the spread's bound, hand-overs a look at a time, against the real MariaDB."""

from __future__ import annotations

import pytest

from wamulti.cluster.lease_keeper import LeaseKeeper
from wamulti.cluster.lease_timings import LeaseTimings
from wamulti.cluster.placement import Placement, PlacementRules, moves, share_of
from wamulti.store import ClientRecord, open_store

TIMINGS = LeaseTimings(lease=5.0, renew=1.0, margin=2.0, tick=0.1)


def test_the_share_and_the_moves_keep_the_spread_within_a_tenth_plus_one():
    rules = PlacementRules()
    assert share_of(300, 3) == 100 and share_of(301, 3) == 101 and share_of(300, 0) == 300
    assert share_of(300, 2, max_clients=120) == 120
    assert moves(0, 300, 3, rules) == (100, 0)  # a new instance takes its share of free clients
    assert moves(100, 300, 3, rules) == (0, 0)
    assert moves(111, 300, 3, rules) == (0, 0)  # within 10 % + 1: nobody moves
    assert moves(112, 300, 3, rules) == (0, 12)
    assert moves(150, 300, 3, rules) == (0, 50)
    assert moves(130, 300, 2, PlacementRules(max_clients=120)) == (0, 10)


class RecordingRegistry:
    """Test double: the registry's cluster hooks, recording what placement asked."""

    def __init__(self):
        self.here: set[str] = set()
        self.adopted: list[list[str]] = []
        self.let_go_calls: list[tuple[list[str], bool]] = []

    def adopt(self, client_ids):
        self.adopted.append(list(client_ids))
        self.here.update(client_ids)
        return list(client_ids)

    def let_go(self, client_ids, *, at_once=False):
        self.let_go_calls.append((list(client_ids), at_once))
        self.here.difference_update(client_ids)
        return []

    def running(self):
        return sorted(self.here)

    def runs(self, client_id):
        return client_id in self.here

    def pick_up(self, rows):
        pass


@pytest.fixture
def stores(mariadb):
    database = mariadb.new_database()
    made = [open_store(mariadb.settings(database), wait_seconds=10) for _ in range(2)]
    for n in range(30):
        made[0].create_client(ClientRecord(f"c{n:02d}", "READY", jid=f"4915{n:08d}@s.whatsapp.net"))
    with mariadb.root() as con, con.cursor() as cur:  # older than a client its creator is still taking
        cur.execute(f"UPDATE `{database}`.clients SET created_at = created_at - INTERVAL 1 MINUTE")
    yield made
    for store in made:
        store.close()


def _instance(store, name: str, registry: RecordingRegistry, rules: PlacementRules) -> Placement:
    store.register_instance(name, f"http://127.0.0.1/{name}")
    return Placement(store, LeaseKeeper(store, name, TIMINGS), registry, rules)


def test_a_second_instance_gets_its_share_a_bounded_number_of_hand_overs_at_a_time(stores):
    rules = PlacementRules(every=2.0, handovers_per_minute=30)  # 1 hand-over a look, at most 5 saved up
    first_registry, second_registry = RecordingRegistry(), RecordingRegistry()
    first = _instance(stores[0], "inst-a", first_registry, rules)
    assert first.place_once() == (30, 0)  # alone: every client
    assert first_registry.running() == [f"c{n:02d}" for n in range(30)]
    second = _instance(stores[1], "inst-b", second_registry, rules)
    assert second.place_once() == (0, 0)  # nothing free yet
    handed = [first.place_once()[1] for _ in range(4)]
    assert handed == [2, 1, 1, 1]  # 15 over its share, but one a look (and the one its first look saved)
    assert all(not at_once for _, at_once in first_registry.let_go_calls)  # graceful
    assert second.place_once() == (5, 0)
    assert sorted(second_registry.running()) == sorted(c for ids, _ in first_registry.let_go_calls for c in ids)
    tokens = {row.client_id: row.token for row in stores[0].lease_rows() if row.owner == "inst-b"}
    assert set(tokens.values()) == {2}  # a new owner: a new token


def test_a_client_running_without_its_lease_is_let_go_at_once(stores):
    registry = RecordingRegistry()
    placement = _instance(stores[0], "inst-a", registry, PlacementRules(max_clients=10))
    registry.here.add("c29")  # running, but never leased here
    placement.place_once()
    assert (["c29"], True) in registry.let_go_calls
    assert len(registry.running()) == 10  # MAX_CLIENTS_PER_INSTANCE caps the take
