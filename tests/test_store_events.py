"""The outbox in the store: events, delivery lanes and webhooks, on SQLite and on real MariaDB."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from wamulti.events.model import new_event_id
from wamulti.store import open_store
from wamulti.store.base import ClientRecord, StoreError
from wamulti.store.outbox import DELIVERED, FAILED, NONE, PENDING, AttemptResult, EventRow, WebhookRow
from wamulti.store.rows import utcnow

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


def test_a_claim_gives_the_clients_oldest_due_event_and_keeps_other_tokens_out(store):
    e1, e2 = row("a"), row("a")
    store.add_events([e1, e2])
    assert store.claim_next_event("a", "one", LEASE).event_id == e1.event_id
    assert store.claim_next_event("a", "two", LEASE) is None, "the lane is held"
    assert store.pending_heads() == [], "a held lane is not offered"
    assert store.claim_next_event("a", "one", LEASE).event_id == e1.event_id, "the holder renews"
    assert store.record_attempt("a", "one", AttemptResult(e1.event_id, DELIVERED, finished_at=utcnow()), LEASE)
    assert store.claim_next_event("a", "one", LEASE).event_id == e2.event_id
    store.release_lane("a", "one")
    assert store.claim_next_event("a", "two", LEASE).event_id == e2.event_id


def test_a_head_not_due_yet_holds_back_its_clients_later_events_only(store):
    a1, a2, b1 = row("a", due_in=60), row("a"), row("b")
    store.add_events([a1, a2, b1])
    heads = dict(store.pending_heads())
    assert set(heads) == {"a", "b"} and heads["a"] > utcnow() + timedelta(seconds=50)
    assert store.claim_next_event("a", "t", LEASE) is None
    assert store.claim_next_event("b", "t", LEASE).event_id == b1.event_id
    assert store.claim_next_event("a", "u", LEASE) is None, "a's lane was released, its head is still not due"


def test_an_attempt_is_only_recorded_by_the_lanes_holder(store):
    e1 = row("a")
    store.add_events([e1])
    store.claim_next_event("a", "holder", LEASE)
    retry_at = utcnow() + timedelta(seconds=5)
    assert not store.record_attempt("a", "stranger", AttemptResult(e1.event_id, DELIVERED), LEASE)
    assert store.get_event(e1.event_id).delivery == PENDING
    result = AttemptResult(e1.event_id, PENDING, next_at=retry_at, last_status=503, last_error="HTTP 503")
    assert store.record_attempt("a", "holder", result, LEASE)
    got = store.get_event(e1.event_id)
    assert (got.delivery, got.attempts, got.last_status, got.last_error, got.next_at) == (
        PENDING, 1, 503, "HTTP 503", retry_at)


def test_a_claim_whose_lease_ran_out_is_taken_over(store):
    e1 = row("a")
    store.add_events([e1])
    assert store.claim_next_event("a", "killed", 0.2) is not None  # its holder never comes back
    deadline = time.monotonic() + 10
    taken = None
    while taken is None and time.monotonic() < deadline:
        taken = store.claim_next_event("a", "survivor", LEASE)
    assert taken is not None and taken.event_id == e1.event_id
    assert not store.record_attempt("a", "killed", AttemptResult(e1.event_id, DELIVERED), LEASE)


def test_redeliver_and_replay_start_a_new_round_in_order(store):
    e1, e2, e3 = row("a", "message"), row("a", "message.ack"), row("a", "message")
    other = row("b")
    store.add_events([e1, e2, e3, other])
    for e in (e1, e2, e3):
        store.claim_next_event("a", "t", LEASE)
        store.record_attempt("a", "t", AttemptResult(e.event_id, FAILED, last_status=400, finished_at=utcnow()), LEASE)
    store.release_lane("a", "t")
    assert store.requeue_event(e2.event_id) and not store.requeue_event("evt_missing")
    got = store.get_event(e2.event_id)
    assert (got.delivery, got.attempts, got.finished_at, got.last_status) == (PENDING, 0, None, 400)
    assert store.requeue_client_events("a", e1.event_id, ["message"]) == 1
    assert [r.delivery for r in store.list_events(client_id="a")] == [FAILED, PENDING, PENDING]
    assert store.requeue_client_events("a", None, None) == 3
    assert store.requeue_client_events("a", None, []) == 0
    assert store.claim_next_event("a", "t", LEASE).event_id == e1.event_id


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
    with pytest.raises(StoreError, match=r"^no client 'ghost' to attach a webhook to$"):
        store.save_webhook(WebhookRow("ghost", "https://example.test/", "*", "whsec_x"))


def test_deleting_a_client_removes_its_events_lane_and_webhook_only(store):
    for client_id in ("gone", "kept"):
        store.create_client(ClientRecord(client_id, "READY"))
        store.save_webhook(WebhookRow(client_id, "https://example.test/", "*", "whsec_x"))
        store.add_events([row(client_id), row(client_id)])
    store.claim_next_event("gone", "t", LEASE)
    assert store.delete_client("gone")
    assert store.list_events(client_id="gone") == [] and store.get_webhook("gone") is None
    assert len(store.list_events(client_id="kept")) == 2 and store.get_webhook("kept") is not None
    store.add_events([row("gone")])  # a client of the same id starts with a free lane
    assert store.claim_next_event("gone", "new", LEASE) is not None


# ---- MariaDB-only behaviour --------------------------------------------------------------------
def test_the_outbox_migration_is_applied_once(mariadb):
    settings = mariadb.settings(mariadb.new_database())
    stores = [open_store(settings), open_store(settings)]
    con = mariadb.root()
    with con.cursor() as cur:
        cur.execute(f"SELECT version FROM `{settings.db_name}`.schema_version ORDER BY version")
        assert cur.fetchall() == ((1,), (2,))
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
            while (claimed := store.claim_next_event("a", token, LEASE)) is not None:
                with lock:
                    holders.add(token)
                    if len(holders) > 1:
                        overlaps.append(set(holders))
                with lock:
                    holders.discard(token)
                result = AttemptResult(claimed.event_id, DELIVERED, finished_at=utcnow())
                assert store.record_attempt("a", token, result, LEASE)
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
