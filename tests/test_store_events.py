"""The outbox in the store: events, delivery lanes and webhooks, on SQLite and on real MariaDB."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from wamulti.errors import NotFound
from wamulti.hearing.event_model import new_event_id
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord
from wamulti.store.mysql_schema import MIGRATIONS as MYSQL_MIGRATIONS
from wamulti.store.event_rows import DELIVERED, FAILED, NONE, PENDING, AttemptResult, EventRow, WebhookRow
from wamulti.store.client_rows import utcnow

LEASE = 30.0


def row(client_id: str, type_: str = "message", delivery: str = PENDING, due_in: float = 0.0) -> EventRow:
    """A new event row, due `due_in` seconds from now when pending."""
    event_id, now = new_event_id(), utcnow()
    pending = delivery == PENDING
    return EventRow(event_id, client_id, type_, f'{{"id":"{event_id}","data":{{"text":"héllo 👋"}}}}', delivery,
                    created_at=now, queued_at=now if pending else None,
                    next_at=now + timedelta(seconds=due_in) if pending else None)


def ids(rows) -> list[str]:
    return [r.event_id for r in rows]


def test_events_read_back_oldest_first_filtered_and_paged_by_cursor(store):
    a1, b1, a2, a3 = row("a"), row("b", "client.state", NONE), row("a", "message.ack"), row("a")
    store.add_events([a1, b1])
    store.add_events([a2, a3])
    assert ids(store.list_events()) == ids([a1, b1, a2, a3])
    assert ids(store.list_events(client_id="a")) == ids([a1, a2, a3])
    assert ids(store.list_events(type="message")) == ids([a1, a3])
    assert ids(store.list_events(client_id="a", after=a1.event_id, limit=1)) == [a2.event_id]
    assert store.list_events(after=a3.event_id) == []
    got = store.get_event(b1.event_id)
    assert (got.client_id, got.type, got.body, got.delivery, got.attempts) == ("b", "client.state", b1.body, NONE, 0)
    assert got.created_at == b1.created_at and store.get_event("evt_nope") is None


def test_adding_an_event_again_keeps_the_stored_one(store):
    first = row("a")
    store.add_events([first])
    store.add_events([EventRow(**{**first.__dict__, "body": "{}"}), row("a")])
    assert store.get_event(first.event_id).body == first.body and len(store.list_events()) == 2


def test_a_claim_gives_the_clients_oldest_due_events_and_keeps_other_tokens_out(store):
    e1, e2, e3 = row("a"), row("a"), row("a")
    store.add_events([e1, e2, e3])
    assert ids(store.claim_events("a", "one", LEASE)) == [e1.event_id]
    assert store.claim_events("a", "two", LEASE) == [], "the lane is held"
    assert store.pending_heads() == [], "a held lane is not offered"
    assert ids(store.claim_events("a", "one", LEASE, limit=5)) == ids([e1, e2, e3]), "the holder renews"
    done = [AttemptResult(e1.event_id, DELIVERED, finished_at=utcnow())]
    assert ids(store.record_attempts("a", "one", done, LEASE, then_claim=1)) == [e2.event_id]
    store.release_lane("a", "one")
    assert ids(store.claim_events("a", "two", LEASE, limit=5)) == ids([e2, e3])


def test_recording_the_last_events_hands_the_lane_back(store):
    e1 = row("a")
    store.add_events([e1])
    store.claim_events("a", "one", LEASE)
    assert store.record_attempts("a", "one", [AttemptResult(e1.event_id, DELIVERED)], LEASE, then_claim=5) == []
    store.add_events([e2 := row("a")])
    assert ids(store.claim_events("a", "two", LEASE)) == [e2.event_id]


def test_an_event_not_due_yet_holds_back_its_clients_later_events_only(store):
    a1, a2, b1 = row("a", due_in=60), row("a"), row("b")
    store.add_events([a1, a2, b1])
    heads = dict(store.pending_heads())
    assert set(heads) == {"a", "b"} and heads["a"] > utcnow() + timedelta(seconds=50)
    assert store.claim_events("a", "t", LEASE, limit=5) == []
    assert ids(store.claim_events("b", "t", LEASE, limit=5)) == [b1.event_id]
    assert store.claim_events("a", "u", LEASE) == [], "a's lane was released, its head is still not due"
    b2, b3, b4 = row("b"), row("b", due_in=60), row("b")
    store.add_events([b2, b3, b4])
    store.release_lane("b", "t")
    assert ids(store.claim_events("b", "t", LEASE, limit=5)) == ids([b1, b2]), "up to the first event not due"


def test_attempts_are_only_recorded_by_the_lanes_holder(store):
    e1, e2 = row("a"), row("a")
    store.add_events([e1, e2])
    store.claim_events("a", "holder", LEASE, limit=2)
    retry_at = utcnow() + timedelta(seconds=5)
    assert store.record_attempts("a", "stranger", [AttemptResult(e1.event_id, DELIVERED)], LEASE) is None
    assert store.get_event(e1.event_id).delivery == PENDING
    results = [AttemptResult(e1.event_id, FAILED, last_status=410, last_error="HTTP 410", finished_at=utcnow()),
               AttemptResult(e2.event_id, PENDING, next_at=retry_at, last_status=503, last_error="x" * 300)]
    assert store.record_attempts("a", "holder", results, LEASE) == []
    got1, got2 = store.get_event(e1.event_id), store.get_event(e2.event_id)
    assert (got1.delivery, got1.attempts, got1.last_status, got1.finished_at is not None) == (FAILED, 1, 410, True)
    assert (got2.delivery, got2.attempts, got2.last_status, got2.next_at) == (PENDING, 1, 503, retry_at)
    assert got2.last_error == "x" * 255
    none = AttemptResult(e2.event_id, NONE, attempted=False, last_error="no webhook applies")
    assert store.record_attempts("a", "holder", [none], LEASE) == []
    assert (store.get_event(e2.event_id).delivery, store.get_event(e2.event_id).attempts) == (NONE, 1)


def test_a_claim_whose_lease_ran_out_is_taken_over(store):
    e1 = row("a")
    store.add_events([e1])
    assert store.claim_events("a", "killed", 0.2)  # its holder never comes back
    deadline = time.monotonic() + 10
    taken = []
    while not taken and time.monotonic() < deadline:
        taken = store.claim_events("a", "survivor", LEASE)
    assert ids(taken) == [e1.event_id]
    assert store.record_attempts("a", "killed", [AttemptResult(e1.event_id, DELIVERED)], LEASE) is None


def test_redeliver_and_replay_start_a_new_round_in_order(store):
    e1, e2, e3 = row("a", "message"), row("a", "message.ack"), row("a", "message")
    other = row("b")
    store.add_events([e1, e2, e3, other])
    store.claim_events("a", "t", LEASE, limit=3)
    store.record_attempts("a", "t", [AttemptResult(e.event_id, FAILED, last_status=400, finished_at=utcnow())
                                     for e in (e1, e2, e3)], LEASE)
    store.release_lane("a", "t")
    assert store.requeue_event(e2.event_id) and not store.requeue_event("evt_missing")
    got = store.get_event(e2.event_id)
    assert (got.delivery, got.attempts, got.finished_at, got.last_status) == (PENDING, 0, None, 400)
    assert store.requeue_client_events("a", e1.event_id, ["message"]) == 1
    assert [r.delivery for r in store.list_events(client_id="a")] == [FAILED, PENDING, PENDING]
    assert store.requeue_client_events("a", None, None) == 3
    assert store.requeue_client_events("a", None, []) == 0
    assert ids(store.claim_events("a", "t", LEASE, limit=5)) == ids([e1, e2, e3])
    assert store.get_event(other.event_id).delivery == PENDING


def test_pruning_removes_finished_events_before_the_bound_and_keeps_pending_ones(store):
    old = [row("a", delivery=DELIVERED), row("a", delivery=FAILED), row("a", delivery=NONE), row("a")]
    store.add_events(old)
    young = row("a", delivery=DELIVERED)
    store.add_events([young])
    assert store.prune_events(young.event_id) == 3
    assert ids(store.list_events()) == [old[3].event_id, young.event_id]


def test_webhooks_are_saved_replaced_read_and_deleted(store):
    store.create_client(ClientRecord("a", "READY"))
    saved = store.save_webhook(WebhookRow("a", "https://example.test/hook", "*", "whsec_one"))
    assert saved.updated_at is not None
    store.save_webhook(WebhookRow("a", "http://127.0.0.1:9/x?y=1", "message,message.ack", "whsec_two"))
    got = store.get_webhook("a")
    assert (got.url, got.event_types, got.secret) == ("http://127.0.0.1:9/x?y=1", "message,message.ack", "whsec_two")
    assert store.delete_webhook("a") and not store.delete_webhook("a") and store.get_webhook("a") is None


def test_a_webhook_without_its_client_is_refused(store):
    with pytest.raises(NotFound, match=r"^No client with id 'ghost'\.$"):  # e.g. deleted by another instance
        store.save_webhook(WebhookRow("ghost", "https://example.test/", "*", "whsec_x"))


def test_deleting_a_client_removes_its_events_lane_and_webhook_only(store):
    for client_id in ("gone", "kept"):
        store.create_client(ClientRecord(client_id, "READY"))
        store.save_webhook(WebhookRow(client_id, "https://example.test/", "*", "whsec_x"))
        store.add_events([row(client_id), row(client_id)])
    store.claim_events("gone", "t", LEASE)
    assert store.delete_client("gone")
    assert store.list_events(client_id="gone") == [] and store.get_webhook("gone") is None
    assert len(store.list_events(client_id="kept")) == 2 and store.get_webhook("kept") is not None
    store.add_events([row("gone")])  # a client of the same id starts with a free lane
    assert store.claim_events("gone", "new", LEASE)


# ---- MariaDB-only behaviour --------------------------------------------------------------------
def test_the_outbox_migration_is_applied_once(mariadb):
    settings = mariadb.settings(mariadb.new_database())
    stores = [open_store(settings), open_store(settings)]
    con = mariadb.root()
    with con.cursor() as cur:
        cur.execute(f"SELECT version FROM `{settings.db_name}`.schema_version ORDER BY version")
        assert cur.fetchall() == tuple((version,) for version, _ in MYSQL_MIGRATIONS)
    con.close()
    for s in stores:
        s.close()


def test_two_stores_racing_for_one_lane_never_both_hold_it(mariadb):
    settings = mariadb.settings(mariadb.new_database())
    stores = [open_store(settings), open_store(settings)]
    stores[0].add_events([row("a") for _ in range(40)])
    holders, overlaps, errors = set(), [], []
    lock = threading.Lock()

    def deliver(n: int) -> None:
        store, token = stores[n % 2], f"t{n}"
        try:
            while claimed := store.claim_events("a", token, LEASE, limit=3):
                with lock:
                    holders.add(token)
                    if len(holders) > 1:
                        overlaps.append(set(holders))
                with lock:
                    holders.discard(token)
                results = [AttemptResult(r.event_id, DELIVERED, finished_at=utcnow()) for r in claimed]
                assert store.record_attempts("a", token, results, LEASE) == []
                store.release_lane("a", token)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and overlaps == []
    assert {r.delivery for r in stores[0].list_events()} == {DELIVERED}
    for s in stores:
        s.close()
