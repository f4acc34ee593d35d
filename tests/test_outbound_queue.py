"""The outbound queue: its table on both stores (MariaDB and SQLite), the dispatcher's order per
recipient, the rate cap, the queue bound, idempotency keys under concurrency, and the waiting slots."""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from tests.conftest import drive_to_ready, wait_until
from wamulti.errors import IdempotencyKeyReused, NotFound, NotReady, QueueFull
from wamulti.store.store_api import ClientRecord
from wamulti.store.send_rows import FAILED, QUEUED, READ, SENDING, SENT, SERVER, OutboundRow
from wamulti.store.client_rows import utcnow
from wamulti.clients.states import READY
from wamulti.sending.send_options import SendOptions
from wamulti.sending.ratecap import RateCap
from wamulti.sending.outcome import Accepted
from wamulti.sending.sender import Sent, new_message_id
from wamulti.sending.wait_slots import WaitSlots

JID_A = "491577777777@s.whatsapp.net"
LONG_AGO = timedelta(hours=24)


def row(client_id="alice", to="+4915100000001", text="hi", key=None, digest=None) -> OutboundRow:
    return OutboundRow(new_message_id(), client_id, to, text, idem_key=key, idem_hash=digest)


# ---- the table, on both stores ------------------------------------------------------------------
@pytest.fixture
def queue_store(store):
    store.create_client(ClientRecord("alice", READY, jid=JID_A))
    return store


def test_rows_are_kept_in_order_taken_once_and_only_move_forward(queue_store):
    s = queue_store
    first, _ = s.enqueue_send(row(text="one"), 10, utcnow() - LONG_AGO)
    second, _ = s.enqueue_send(row(text="two 👋"), 10, utcnow() - LONG_AGO)
    assert [r.body for r in s.open_sends("alice")] == ["one", "two 👋"] and first.seq < second.seq
    assert s.claim_send(first.message_id) and not s.claim_send(first.message_id), "only one taker"
    sent_at = utcnow()
    assert s.set_send_state(first.message_id, SENT, chat=JID_A, wa_message_id="WA1", sent_at=sent_at)
    assert s.set_send_state(first.message_id, READ) and not s.set_send_state(first.message_id, SERVER)
    got = s.get_send(first.message_id)
    assert (got.state, got.chat, got.wa_message_id, got.attempts) == (READ, JID_A, "WA1", 1)
    assert abs((got.sent_at - sent_at).total_seconds()) < 0.001
    assert not s.set_send_state(first.message_id, FAILED, reason="late"), "a sent row never fails"
    assert [r.message_id for r in s.open_sends("alice")] == [second.message_id]
    assert s.get_send("3EB0000000000000000000") is None


def test_a_killed_sends_rows_fail_as_unknown_and_old_rows_expire(queue_store):
    s = queue_store
    sending, _ = s.enqueue_send(row(text="under way"), 10, utcnow() - LONG_AGO)
    s.claim_send(sending.message_id)
    waiting, _ = s.enqueue_send(row(text="waiting"), 10, utcnow() - LONG_AGO)
    [unknown] = s.fail_open_sends("alice", SENDING, "outcome_unknown")
    assert unknown.message_id == sending.message_id
    assert (s.get_send(sending.message_id).state, s.get_send(sending.message_id).reason) == (FAILED, "outcome_unknown")
    assert s.fail_open_sends("alice", QUEUED, "expired", created_before=utcnow() - timedelta(hours=1)) == []
    assert [r.message_id for r in s.fail_open_sends("alice", QUEUED, "expired", created_before=utcnow())] == \
        [waiting.message_id]
    assert s.prune_sends(utcnow() + timedelta(seconds=1)) == 2 and s.get_send(waiting.message_id) is None


def test_many_clients_queues_load_at_once_as_each_loads_alone(queue_store, monkeypatch):
    from wamulti.store import send_sql

    s = queue_store
    for client_id in ("bob", "carol"):
        s.create_client(ClientRecord(client_id, READY, jid=JID_A))
    mine, _ = s.enqueue_send(row(text="mine, under way"), 10, utcnow() - LONG_AGO)
    s.claim_send(mine.message_id, "me")
    theirs, _ = s.enqueue_send(row("bob", text="another instance's"), 10, utcnow() - LONG_AGO)
    s.claim_send(theirs.message_id, "other")
    queued = [s.enqueue_send(row(c, text=f"{c} waits"), 10, utcnow() - LONG_AGO)[0] for c in ("alice", "bob", "carol")]
    outside, _ = s.enqueue_send(row("carol", text="not asked for"), 10, utcnow() - LONG_AGO)
    monkeypatch.setattr(send_sql, "IDS_PER_STATEMENT", 1)  # one client per statement: still one transaction
    failed, open_rows = s.load_open_sends(["alice", "bob"], SENDING, "outcome_unknown", "me")
    assert [r.message_id for r in failed] == [mine.message_id]
    assert (s.get_send(mine.message_id).state, s.get_send(mine.message_id).reason) == (FAILED, "outcome_unknown")
    by_client = {c: [r.message_id for r in open_rows if r.client_id == c] for c in ("alice", "bob")}
    assert by_client == {c: [r.message_id for r in s.open_sends(c)] for c in ("alice", "bob")}
    assert by_client == {"alice": [queued[0].message_id], "bob": [theirs.message_id, queued[1].message_id]}
    assert s.get_send(theirs.message_id).state == SENDING, "another instance's send is its own"
    assert s.get_send(outside.message_id).state == QUEUED and s.load_open_sends([], SENDING, "x", "me") == ([], [])


def test_the_queue_is_bounded_per_client_and_deleted_with_the_client(queue_store):
    s = queue_store
    for i in range(3):
        s.enqueue_send(row(text=f"m{i}"), 3, utcnow() - LONG_AGO)
    with pytest.raises(QueueFull) as full:
        s.enqueue_send(row(text="one too many"), 3, utcnow() - LONG_AGO)
    assert full.value.depth == 3 and len(s.open_sends("alice")) == 3
    [done, *_] = s.open_sends("alice")
    s.claim_send(done.message_id), s.set_send_state(done.message_id, SENT)
    s.enqueue_send(row(text="room again"), 3, utcnow() - LONG_AGO)
    assert s.delete_client("alice") and s.open_sends("alice") == [] and s.get_send(done.message_id) is None


def test_an_idempotency_key_is_taken_once_under_concurrency_and_freed_after_a_day(queue_store):
    s = queue_store

    def enqueue(i):
        return s.enqueue_send(row(text="same", key="key-1", digest="h1"), 100, utcnow() - LONG_AGO)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(enqueue, range(8)))
    assert sum(created for _, created in results) == 1
    assert len({r.message_id for r, _ in results}) == 1 and len(s.open_sends("alice")) == 1
    again, created = s.enqueue_send(row(text="later", key="key-1", digest="h2"), 100, utcnow() + timedelta(seconds=1))
    assert created and again.idem_key == "key-1", "past the window the key is free again"


# ---- the dispatcher on a worker (FakeBackend) ---------------------------------------------------
def sent_texts(session):
    return [(c[1], c[2]) for c in session.calls if c[0] == "send_text"]


def test_each_recipient_gets_its_messages_in_order_while_recipients_go_in_parallel(ready, sqlite_store):
    worker, session, sink = ready()
    session.send_delay = 0.05
    chats = [f"4915100000{n:03d}@s.whatsapp.net" for n in range(4)]
    started = time.monotonic()
    answers = [worker.submit(chat, f"{chat[-20:-16]}-{i}") for i in range(5) for chat in chats]
    assert all(isinstance(a, Accepted) and a.status == QUEUED for a in answers)
    wait_until(lambda: len(sent_texts(session)) == 20, timeout=10)
    elapsed = time.monotonic() - started
    for chat in chats:
        assert [t for c, t in sent_texts(session) if c == chat] == [f"{chat[-20:-16]}-{i}" for i in range(5)]
    assert elapsed < 5 * 0.05 * 4 * 0.9, f"the four chats went in parallel ({elapsed:.2f}s)"
    wait_until(lambda: all(sqlite_store.get_send(a.message_id).state == SERVER for a in answers))


def test_the_rate_cap_spaces_sends_and_the_rest_waits_queued(ready, sqlite_store):
    worker, session, sink = ready(send_options=SendOptions(rate_per_minute=240))  # one per 0.25 s
    started_at = []  # when each send reached the backend (the stored sent_at comes later, by load)
    backend_send = session.send_text
    session.send_text = lambda *args, **kw: started_at.append(time.monotonic()) or backend_send(*args, **kw)
    answers = [worker.submit(f"4915100000{n:03d}@s.whatsapp.net", "x") for n in range(4)]
    time.sleep(0.1)
    states = [sqlite_store.get_send(a.message_id).state for a in answers]
    assert states[0] in (SENT, SERVER) and states[1:] == [QUEUED] * 3, states
    wait_until(lambda: len(sent_texts(session)) == 4, timeout=5)
    wait_until(lambda: all(sqlite_store.get_send(a.message_id).sent_at for a in answers))
    gaps = [b - a for a, b in zip(started_at, started_at[1:])]
    assert len(started_at) == 4 and all(gap >= 0.2 for gap in gaps), gaps  # 0.25 s apart, less scheduling jitter


def test_cap_arithmetic():
    now = [100.0]
    cap = RateCap(60, clock=lambda: now[0])
    assert cap.wait_seconds() == 0
    cap.take()
    assert cap.wait_seconds() == pytest.approx(1.0)
    now[0] += 5  # idle time does not save up a burst
    cap.take()
    assert cap.wait_seconds() == pytest.approx(1.0)
    assert RateCap(0).wait_seconds() == 0


def test_a_full_queue_refuses_and_an_unpaired_client_takes_nothing(ready, make_worker):
    worker, session, _ = ready(send_options=SendOptions(queue_max=2))
    session.send_delay = 0.5
    worker.submit(JID_A.replace("77", "11"), "one"), worker.submit(JID_A.replace("77", "11"), "two")
    with pytest.raises(QueueFull):
        worker.submit(JID_A.replace("77", "11"), "three")
    with pytest.raises(NotReady):
        make_worker("unpaired").submit(JID_A, "x")


def test_concurrent_retries_with_one_key_send_once_and_another_body_is_refused(make_registry, fake_backend,
                                                                            sqlite_store):
    sqlite_store.create_client(ClientRecord("alice", READY, jid=JID_A))
    sqlite_store.save_snapshot("alice", zlib.compress(b"keys"), hashlib.sha256(b"keys").hexdigest())
    registry = make_registry(wait_slots=4)
    assert registry.restore_all() == 1
    session = fake_backend.wait_session(1)
    drive_to_ready(session)
    wait_until(lambda: registry.get("alice").state == READY)
    session.send_delay = 0.3

    def retry(i):
        return registry.send_text("alice", "+4915100000002", "pay once", wait=i % 2 == 0, idempotency_key="k-1")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(retry, range(8)))
    assert len({a.message_id for a in answers}) == 1
    assert any(isinstance(a, Sent) for a in answers), "the waiting ones heard the first send's outcome"
    time.sleep(0.4)
    assert len(sent_texts(session)) == 1
    assert isinstance(registry.send_text("alice", "+4915100000002", "pay once", idempotency_key="k-1"), Sent)
    with pytest.raises(IdempotencyKeyReused):
        registry.send_text("alice", "+4915100000002", "pay twice", idempotency_key="k-1")
    with pytest.raises(NotFound):
        registry.message_status("3EB0000000000000000000")


def test_waiting_takes_a_slot_and_with_none_free_the_answer_comes_at_once():
    slots = WaitSlots(1)
    assert slots.take() and not slots.take()
    slots.give()
    assert slots.take(), "a slot given back is free again"
    assert not WaitSlots(0).take(), "a single HTTP thread never waits"


def test_a_replay_waits_for_the_send_under_way_and_one_that_stopped_waiting_is_not_told(ready):
    worker, session, _ = ready()
    session.send_delay = 0.3
    first = worker.submit(JID_A, "slow", ("k-slow", "h"), wait=0.05)
    assert isinstance(first, Accepted), "stopped waiting before the outcome"
    again = worker.submit(JID_A, "slow", ("k-slow", "h"), wait=5)
    assert isinstance(again, Sent) and again.message_id == first.message_id, "the replay heard the outcome"
    assert isinstance(worker.submit(JID_A, "slow", ("k-slow", "h"), wait=5), Sent), "an ended one answers at once"


def test_a_chats_next_send_is_claimed_in_the_write_of_the_one_before_and_sent_by_the_same_thread(
        ready, sqlite_store, monkeypatch):
    worker, session, _ = ready()
    session.send_delay = 0.1
    claimed, threads = [], []
    real_claim, backend_send = sqlite_store.claim_send, session.send_text
    monkeypatch.setattr(sqlite_store, "claim_send", lambda *args: claimed.append(args[0]) or real_claim(*args))
    session.send_text = lambda *args, **kw: threads.append(threading.current_thread()) or backend_send(*args, **kw)
    answers = [worker.submit(JID_A, f"m{i}") for i in range(5)]
    wait_until(lambda: all(sqlite_store.get_send(a.message_id).state == SERVER for a in answers))
    assert [t for _, t in sent_texts(session)] == [f"m{i}" for i in range(5)]
    assert claimed == [answers[0].message_id], "the rest went on from the send before, without a claim of their own"
    assert [sqlite_store.get_send(a.message_id).attempts for a in answers] == [1] * 5
    assert len(set(threads)) == 1, "no hand-over to another thread between a chat's sends"


def test_a_send_whose_acks_fail_leaves_the_next_one_of_its_chat_to_be_sent(ready, sqlite_store, monkeypatch):
    from wamulti.hearing.heard_events import Hearing

    worker, session, _ = ready()
    session.send_delay = 0.1
    real_send_ended, failed = Hearing.send_ended, []

    def send_ended_failing_once(self, *args, **kwargs):
        real_send_ended(self, *args, **kwargs)
        if not failed:
            failed.append(True)
            raise RuntimeError("a bug while publishing")

    monkeypatch.setattr(Hearing, "send_ended", send_ended_failing_once)
    answers = [worker.submit(JID_A, f"m{i}") for i in range(3)]
    wait_until(lambda: all(sqlite_store.get_send(a.message_id).state == SERVER for a in answers))
    assert failed and [t for _, t in sent_texts(session)] == ["m0", "m1", "m2"]


def test_a_rows_payload_and_media_travel_and_open_rows_keep_their_media(queue_store):
    s = queue_store
    payload = '{"media": {"id": "mabc", "kind": "image", "caption": "Look"}, "replyTo": "3EB0AA"}'
    media_row, _ = s.enqueue_send(OutboundRow(new_message_id(), "alice", "+4915100000001", "Look",
                                              payload=payload, media_id="mabc"), 10, utcnow() - LONG_AGO)
    other, _ = s.enqueue_send(OutboundRow(new_message_id(), "alice", "+4915100000002", "x",
                                          payload='{"media": {"id": "mdef"}}', media_id="mdef"), 10, utcnow() - LONG_AGO)
    plain, _ = s.enqueue_send(row(text="plain"), 10, utcnow() - LONG_AGO)
    got = s.get_send(media_row.message_id)
    assert (got.payload, got.media_id) == (payload, "mabc")
    assert (s.get_send(plain.message_id).payload, s.get_send(plain.message_id).media_id) == (None, None)
    assert [r.payload for r in s.open_sends("alice")] == [payload, '{"media": {"id": "mdef"}}', None]
    assert s.media_ids_in_open_sends(["mabc", "mdef", "mnone"]) == {"mabc", "mdef"}
    assert s.claim_send(other.message_id)
    assert s.media_ids_in_open_sends(["mdef"]) == {"mdef"}, "a row being sent still needs its file"
    assert s.set_send_state(other.message_id, SENT, chat=JID_A, wa_message_id="WA2")
    assert s.media_ids_in_open_sends(["mabc", "mdef"]) == {"mabc"}
    assert s.media_ids_in_open_sends([]) == set()
