"""The outbound table beyond one running queue, on both stores: a finished send claims its chat's next
row in the same write; a process fails as outcome_unknown only the `sending` rows its own instance
left (never another live instance's); QueueUpkeep expires the queued rows of clients whose queue does
not run, fails rows `sending` past any send's length, and prunes old finished rows in bounded batches;
ack statuses are written in batches, forward only."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import wait_until
from tests.test_worker_hearing import RecordingSink
from wamulti.store.store_api import ClientRecord
from wamulti.hearing.event_model import EventType
from wamulti.store.send_rows import DELIVERED, FAILED, QUEUED, READ, SENDING, SERVER, OutboundRow, StateChange
from wamulti.store.client_rows import utcnow
from wamulti.clients.states import READY
from wamulti.sending import queue_upkeep
from wamulti.hearing.heard_events import Hearing
from wamulti.clients.instance_id import instance_id
from wamulti.sending.dispatcher import Dispatcher
from wamulti.sending.send_options import SendOptions
from wamulti.sending.queue_upkeep import QueueUpkeep
from wamulti.sending.sender import Sent, new_message_id
from wamulti.sending.send_status import SendStatus, status_writer_for

ME, OTHER = "a" * 16, "b" * 16
SINCE = timedelta(hours=24)


@pytest.fixture
def two_clients(store):
    for name in ("alice", "bob"):
        store.create_client(ClientRecord(name, READY, jid=f"{name}@s.whatsapp.net"))
    return store


def enqueue(store, client="alice", to="+4915100000001", text="hi") -> OutboundRow:
    stored, _ = store.enqueue_send(OutboundRow(new_message_id(), client, to, text), 100, utcnow() - SINCE)
    return stored


def test_a_finished_send_claims_its_chats_next_row_in_the_same_write(two_clients):
    s = two_clients
    first, second = enqueue(s, text="one"), enqueue(s, text="two")
    assert s.claim_send(first.message_id, ME)
    change = StateChange(SERVER, chat="x@s.whatsapp.net", wa_message_id="WA1", sent_at=utcnow())
    assert s.finish_send(first.message_id, change, second.message_id, ME)
    got_first, got_second = s.get_send(first.message_id), s.get_send(second.message_id)
    assert (got_first.state, got_first.wa_message_id, got_first.chat) == (SERVER, "WA1", "x@s.whatsapp.net")
    assert (got_second.state, got_second.attempts) == (SENDING, 1)
    assert not s.finish_send(second.message_id, StateChange(FAILED, reason="upstream_error: no"), first.message_id,
                             ME), "a row that is not queued is not claimed"
    assert s.get_send(second.message_id).reason == "upstream_error: no"


def test_start_up_fails_only_the_sending_rows_of_its_own_instance(two_clients):
    s = two_clients
    mine, theirs, queued = enqueue(s, text="mine"), enqueue(s, text="theirs"), enqueue(s, text="queued")
    s.claim_send(mine.message_id, ME), s.claim_send(theirs.message_id, OTHER)
    sink = RecordingSink()
    dispatcher = Dispatcher("alice", s, Hearing("alice", sink), SendOptions(owner=ME), lambda: None)
    dispatcher.start()  # loads the queue: what this instance left `sending` died with its earlier life
    wait_until(lambda: s.get_send(mine.message_id).state == FAILED)
    dispatcher.stop()
    assert dispatcher.join(5)
    assert s.get_send(mine.message_id).reason == "outcome_unknown"
    assert s.get_send(theirs.message_id).state == SENDING, "another live instance's send is left alone"
    assert s.get_send(queued.message_id).state == QUEUED
    assert [(d["messageId"], d["reason"]) for d in sink.of_type("message.ack")] == \
        [(mine.message_id, "outcome_unknown")]


def test_the_instance_id_is_kept_in_the_data_directory(tmp_path):
    first = instance_id(tmp_path)
    assert first == instance_id(tmp_path) and len(first) == 16, "a restart is the same instance"
    (tmp_path / "other").mkdir()
    assert instance_id(tmp_path / "other") != first, "another data directory is another instance"


def test_upkeep_expires_queued_rows_of_clients_whose_queue_does_not_run(two_clients):
    s = two_clients
    old = [enqueue(s, "alice", text="a"), enqueue(s, "bob", text="b")]
    time.sleep(0.3)
    fresh = enqueue(s, "alice", text="fresh")
    sink = RecordingSink()
    upkeep = QueueUpkeep(s, sink, expiry=0.2, every=30)
    upkeep.start()  # the first pass runs at once, then every 30 s
    try:
        wait_until(lambda: all(s.get_send(r.message_id).state == FAILED for r in old))
    finally:
        upkeep.stop()
    assert {s.get_send(r.message_id).reason for r in old} == {"expired"}
    assert s.get_send(fresh.message_id).state == QUEUED
    acks = {(c, d["messageId"], d["status"], d["reason"]) for c, t, d, _ in sink.published}
    assert acks == {("alice", old[0].message_id, "failed", "expired"), ("bob", old[1].message_id, "failed", "expired")}


def test_upkeep_fails_sends_under_way_past_any_sends_length(two_clients):
    s = two_clients
    stuck = enqueue(s)
    s.claim_send(stuck.message_id, OTHER)  # an instance that died and never came back
    time.sleep(0.3)
    running = enqueue(s, text="just taken")
    s.claim_send(running.message_id, OTHER)
    sink = RecordingSink()
    done = QueueUpkeep(s, sink, expiry=3600, stale=0.2).run_once()
    assert done == {"expired": 0, "outcome_unknown": 1, "pruned": 0}
    assert (s.get_send(stuck.message_id).state, s.get_send(stuck.message_id).reason) == (FAILED, "outcome_unknown")
    assert s.get_send(running.message_id).state == SENDING
    assert [d["messageId"] for d in sink.of_type("message.ack")] == [stuck.message_id]


def test_upkeep_prunes_finished_rows_a_day_old_in_bounded_batches(two_clients, monkeypatch):
    s = two_clients
    finished = [enqueue(s, text=f"m{i}") for i in range(7)]
    for r in finished:
        s.set_send_state(r.message_id, FAILED, reason="upstream_error: test")
    still_open = enqueue(s, text="open")
    upkeep = QueueUpkeep(s, RecordingSink(), expiry=10 * 86400, batch=3)
    assert upkeep.run_once()["pruned"] == 0, "a finished row is kept a day"
    now = utcnow()
    monkeypatch.setattr(queue_upkeep, "utcnow", lambda: now + SINCE + timedelta(minutes=1))
    assert [upkeep.run_once()["pruned"] for _ in range(4)] == [3, 3, 1, 0]
    assert all(s.get_send(r.message_id) is None for r in finished)
    assert s.get_send(still_open.message_id).state == QUEUED, "an open row is never pruned"


def test_ack_statuses_move_many_rows_forward_in_one_write_and_never_back(two_clients):
    s = two_clients
    rows = [enqueue(s, text=f"m{i}") for i in range(4)]
    for r in rows:
        s.claim_send(r.message_id, ME)
        failed = r is rows[3]  # a failed send is never moved by an ack
        s.finish_send(r.message_id, StateChange(FAILED, reason="upstream_error: x") if failed else
                      StateChange(SERVER, wa_message_id=f"WA-{r.message_id}"))
    changes = [(rows[0].message_id, READ), (rows[0].message_id, DELIVERED), (rows[1].message_id, DELIVERED),
               (rows[2].message_id, READ), (rows[3].message_id, READ)]
    assert s.advance_sends(changes) == 4, "the first row delivered, then read, in one write; the failed one stays"
    assert [s.get_send(r.message_id).state for r in rows] == [READ, DELIVERED, READ, FAILED]
    assert s.advance_sends([(rows[2].message_id, DELIVERED)]) == 0, "never back"


def test_acks_from_many_threads_reach_their_rows_through_one_writer(two_clients):
    s = two_clients
    rows = [enqueue(s, text=f"m{i}") for i in range(60)]
    for r in rows:
        s.claim_send(r.message_id, ME)
        s.finish_send(r.message_id, StateChange(SERVER))
    sink = RecordingSink()
    status = SendStatus(sink, s)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda r: status.publish("alice", EventType.MESSAGE_ACK,
                                               {"messageId": r.message_id, "status": "played"}), rows))
    wait_until(lambda: all(s.get_send(r.message_id).state == READ for r in rows))
    assert len(sink.of_type("message.ack")) == 60, "every event passes on"
    assert status_writer_for(s).batches <= 60


class OneSender:
    """Test double of a run's Sender: sends each row at once on a thread of its own, until shut down."""

    def __init__(self):
        self.open = True
        self.sent: list[str] = []

    def submit(self, session, row, lane) -> bool:
        if not self.open:
            return False
        threading.Thread(target=self._run, args=(row, lane)).start()
        return True

    def _run(self, row, lane) -> None:
        while row is not None:
            self.sent.append(row.body)
            _, row = lane.finish(row, Sent(row.message_id, "WA", "x@s.whatsapp.net", datetime.now(timezone.utc)), self)


class EndingRunStore:
    """The store, where writing the first outcome ends the run (its sender shuts down meanwhile)."""

    def __init__(self, store, sender):
        self._store = store
        self._sender = sender

    def finish_send(self, *args):
        claimed = self._store.finish_send(*args)
        self._sender.open = False
        return claimed

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.mark.parametrize("failed_meanwhile", [False, True])
def test_a_next_row_claimed_as_its_run_ended_is_sent_by_the_next_run_only_if_still_sending(
        two_clients, monkeypatch, failed_meanwhile):
    s = two_clients
    first, second, third = enqueue(s, text="one"), enqueue(s, text="two"), enqueue(s, text="three")
    ending = OneSender()
    ready = [None]  # the current run's (session, sender), as ClientWorker._ready answers
    dispatcher = Dispatcher("alice", EndingRunStore(s, ending), Hearing("alice", RecordingSink()),
                            SendOptions(owner=ME), lambda: ready[0])
    ready[0] = ("session", ending)
    dispatcher.start()
    wait_until(lambda: s.get_send(second.message_id).state == SENDING)
    assert ending.sent == ["one"], "claimed with the first one's outcome, not sent by the run that ended"
    if failed_meanwhile:  # it waited past the bound in the queue, and upkeep failed it as outcome_unknown
        monkeypatch.setattr("wamulti.sending.dispatcher.FRESH_CLAIM", 0.0)
        s.fail_open_sends("alice", SENDING, "outcome_unknown")
    following = OneSender()
    ready[0] = ("session", following)
    wait_until(lambda: s.get_send(third.message_id).state == SERVER)
    assert following.sent == (["three"] if failed_meanwhile else ["two", "three"])
    assert s.get_send(second.message_id).state == (FAILED if failed_meanwhile else SERVER)
    dispatcher.stop()
    assert dispatcher.join(5)


def test_a_request_listening_before_the_queue_loads_its_row_hears_the_outcome(two_clients):
    s = two_clients
    queued = enqueue(s, text="left by an earlier life")
    sender = OneSender()
    dispatcher = Dispatcher("alice", s, Hearing("alice", RecordingSink()), SendOptions(owner=ME),
                            lambda: ("session", sender))
    early = dispatcher.listen(queued.message_id)
    stopped = dispatcher.listen(queued.message_id)
    assert stopped.cancel()  # this one stopped waiting before the outcome
    dispatcher.start()
    outcome = early.result(timeout=5)
    assert isinstance(outcome, Sent) and outcome.message_id == queued.message_id
    assert sender.sent == ["left by an earlier life"] and stopped.cancelled()
    dispatcher.stop()
    assert dispatcher.join(5)
