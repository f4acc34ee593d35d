"""Sending: the recipient book, a send outliving its wait, and the whole path over HTTP in-process on a
real registry and the real simulator (202, the status route)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import send_and_wait, wait_until
from tests.fake_backend import FakePrompter
from tests.test_worker_hearing import RecordingSink
from wamulti.web.app import create_app
from wamulti.backends.backend_api import SendFailed
from wamulti.backends.simulator.simnet import SimNetwork, other_forms
from wamulti.backends.simulator.sim_backend import SimulatorBackend
from wamulti.config import Settings
from wamulti.errors import RecipientNotOnWhatsApp, Upstream
from wamulti.clients.registry import ClientRegistry
from wamulti.clients.states import READY
from wamulti.sending.recipients import RecipientBook
from wamulti.sending.send_options import SendOptions
from wamulti.sending.outcome import Accepted
from wamulti.sending.sender import new_message_id

KEY = "sending-key-0123456789"


# ---- RecipientBook -----------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_answers_are_remembered_found_for_longer_than_missing_and_forgotten_when_old():
    clock, asked = Clock(), []
    book = RecipientBook(found_seconds=60, missing_seconds=10, clock=clock)
    lookup = (lambda d: asked.append(d) or (None if d == "2" else f"{d}9@s.whatsapp.net"))
    assert [book.resolve(d, lookup) for d in ("1", "2", "1", "2")] == ["19@s.whatsapp.net", None] * 2
    assert asked == ["1", "2"]
    clock.now += 11  # the "no" expired, the "yes" did not
    assert (book.resolve("1", lookup), book.resolve("2", lookup), asked) == ("19@s.whatsapp.net", None, ["1", "2", "2"])
    clock.now += 61
    book.resolve("1", lookup)
    assert asked[-1] == "1"


def test_the_book_is_bounded_dropping_the_least_recently_asked():
    book, asked = RecipientBook(max_numbers=3), []
    lookup = (lambda d: asked.append(d) or d)
    for d in ("1", "2", "3", "1", "4"):  # "2" is the least recently asked when "4" comes
        book.resolve(d, lookup)
    assert len(book) == 3
    book.resolve("1", lookup), book.resolve("2", lookup)
    assert asked == ["1", "2", "3", "4", "2"]


def test_concurrent_sends_to_a_new_number_wait_for_one_lookup_and_a_failed_lookup_is_not_remembered():
    book, asked, gate = RecipientBook(), [], threading.Event()

    def slow(digits):
        asked.append(digits)
        gate.wait(5)
        return "x@s.whatsapp.net"

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(book.resolve, "491", slow) for _ in range(8)]
        wait_until(lambda: asked)
        time.sleep(0.05)
        gate.set()
        assert {f.result(5) for f in futures} == {"x@s.whatsapp.net"} and asked == ["491"]

    def failing(digits):
        raise SendFailed("no answer")

    with pytest.raises(SendFailed):
        book.resolve("492", failing)
    assert book.resolve("492", lambda d: None) is None, "asked again: a failure is no answer"


def test_many_numbers_ask_once_for_those_not_remembered_and_share_answers_with_single_lookups():
    book, batches = RecipientBook(), []
    book.resolve("1", lambda d: "1@s.whatsapp.net")  # a send asked already
    many = (lambda numbers: batches.append(list(numbers)) or {n: None if n == "3" else f"{n}@lid" for n in numbers})
    assert book.resolve_many(["1", "2", "3", "2"], many) == {"1": "1@s.whatsapp.net", "2": "2@lid", "3": None}
    assert batches == [["2", "3"]], "one call, the remembered and the repeated number left out"
    assert book.resolve("2", lambda d: pytest.fail("asked again")) == "2@lid", "a send uses the check's answer"

    def failing(numbers):
        raise SendFailed("no answer")

    with pytest.raises(SendFailed):
        book.resolve_many(["4", "5"], failing)
    assert book.resolve_many(["4"], lambda numbers: {"4": None}) == {"4": None}, "a failed batch is not remembered"


def test_a_batch_waits_for_a_number_a_send_is_asking_about():
    book, gate, batches = RecipientBook(), threading.Event(), []

    def slow(digits):
        gate.wait(5)
        return "7@s.whatsapp.net"

    with ThreadPoolExecutor(2) as pool:
        single = pool.submit(book.resolve, "7", slow)
        wait_until(lambda: book._asking)  # noqa: SLF001 (the send is under way)
        batch = pool.submit(book.resolve_many, ["7", "8"], lambda ns: batches.append(ns) or {n: None for n in ns})
        wait_until(lambda: batches)
        gate.set()
        assert batch.result(5) == {"7": "7@s.whatsapp.net", "8": None} and single.result(5) == "7@s.whatsapp.net"
    assert batches == [["8"]]


def test_message_ids_have_whatsapps_shape_and_are_unique():
    ids = {new_message_id() for _ in range(10000)}
    assert len(ids) == 10000
    assert all(len(i) == 22 and i.startswith("3EB0") and i[4:].isalnum() and i.upper() == i for i in ids)


# ---- the Sender on a worker (FakeBackend: like neonize 0.5.2 it picks its own ids) -------------
def sends(session):
    return [call for call in session.calls if call[0] == "send_text"]


def test_a_phone_number_is_sent_to_the_jid_whatsapp_gives_and_a_jid_as_given(ready):
    worker, session, sink = ready()
    session.numbers["551112345678"] = "5511912345678@s.whatsapp.net"
    sent = send_and_wait(worker, "+551112345678", "oi")
    send_and_wait(worker, "+551112345678", "de novo")
    send_and_wait(worker, "551112345678@s.whatsapp.net", "as given")
    assert [c for c in session.calls if c[0] == "lookup_phone"] == [("lookup_phone", "551112345678")]
    assert [c[1] for c in sends(session)] == ["5511912345678@s.whatsapp.net"] * 2 + ["551112345678@s.whatsapp.net"]
    assert sent.to == "5511912345678@s.whatsapp.net" and sent.message_id != sent.wa_message_id
    [first, *_] = sink.of_type("message.ack")
    assert (first["id"], first["messageId"], first["chat"]) == (sent.wa_message_id, sent.message_id, sent.to)


def test_not_on_whatsapp_is_its_own_error_and_a_failed_lookup_is_upstream(ready):
    worker, session, sink = ready()
    session.numbers["4915100000000"] = None
    with pytest.raises(RecipientNotOnWhatsApp):
        send_and_wait(worker, "+4915100000000", "hi")
    session.lookup_error = SendFailed("usync timed out")
    with pytest.raises(Upstream, match="usync timed out"):
        send_and_wait(worker, "+4915100000001", "hi")
    assert sends(session) == [] and sink.of_type("message.ack") == []


def test_a_send_outliving_the_wait_answers_its_id_and_still_goes_out_in_order(ready):
    worker, session, sink = ready()
    session.send_delay = 0.3
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(worker.submit, "+4915100000009", f"m{i}", wait=0.4) for i in range(4)]
        answers = [f.result(5) for f in futures]
    accepted = [a for a in answers if isinstance(a, Accepted)]
    assert len(accepted) >= 2, "one chat sends one at a time: the later ones outlive the wait"
    wait_until(lambda: len(sends(session)) == 4 and len(sink.of_type("message.ack")) == 4, timeout=5)
    assert {a.message_id for a in accepted} <= {a["messageId"] for a in sink.of_type("message.ack")}
    assert all(a["status"] == "server" and a["id"] for a in sink.of_type("message.ack")), "they did go out"
    assert sorted(c[2] for c in sends(session)) == [f"m{i}" for i in range(4)]
    assert worker.state == READY


def test_a_send_that_fails_after_its_wait_publishes_a_failed_ack_with_its_id(ready):
    worker, session, sink = ready()
    session.send_delay, session.send_error = 0.5, SendFailed("server returned error 479")
    accepted = worker.submit("120363012345678901@g.us", "x", wait=0.2)
    assert isinstance(accepted, Accepted), "still sending when the wait ended"
    wait_until(lambda: sink.of_type("message.ack"), timeout=5)
    [ack] = sink.of_type("message.ack")
    assert (ack["id"], ack["messageId"], ack["status"]) == (None, accepted.message_id, "failed")
    assert "479" in ack["reason"] and ack["chat"] == "120363012345678901@g.us"
    session.send_delay = 0
    with pytest.raises(Upstream, match="479"):  # told in the answer: no failed ack for it
        send_and_wait(worker, "120363012345678901@g.us", "y")
    assert len(sink.of_type("message.ack")) == 1


# ---- over HTTP, in-process: the real app, registry, worker and simulator -----------------------
@pytest.fixture
def api(tmp_path, sqlite_store):
    backend = SimulatorBackend(0.01, 0.05, 0.01, read_delay=0.1, not_on_whatsapp=frozenset({"4915100000000"}),
                               send_delay=0.4)
    sink = RecordingSink()
    registry = ClientRegistry(store=sqlite_store, backend=backend, prompter=FakePrompter(), data_dir=tmp_path / "d",
                              pairing_timeout=30, events=sink, send_options=SendOptions(wait=0.2),
                              snapshot_interval=0.2)
    for client_id, phone in (("alice", "4915111111111"), ("bob", "5511922222222")):
        registry.create(client_id, phone)
    wait_until(lambda: all(s.state == READY for s in registry.list()), timeout=10)
    client = create_app(Settings(api_key=KEY), registry).test_client()
    yield (lambda body: client.post("/api/messages/send", json=body, headers={"x-api-key": KEY})), sink, \
        (lambda message_id: client.get(f"/api/messages/{message_id}", headers={"x-api-key": KEY}))
    registry.stop_all()
    backend.close()


def test_http_202_carries_the_id_that_the_status_the_acks_and_the_recipients_message_carry(api):
    post, sink, get = api
    answers = [post({"clientId": "alice", "to": "+55 11 2222-2222", "text": f"m{i}"}) for i in range(3)]
    assert [a.status_code for a in answers] == [202] * 3, [a.get_json() for a in answers]
    ids = [a.get_json()["messageId"] for a in answers]
    assert all(a.headers["Location"] == f"/api/messages/{i}" for a, i in zip(answers, ids))
    assert {a.get_json()["status"] for a in answers} <= {"queued", "sending"}
    wait_until(lambda: len([e for e in sink.of_type("message") if e["chat"].startswith("4915111")]) == 3,
               timeout=10)
    arrived = [e["id"] for e in sink.of_type("message") if e["chat"].startswith("4915111")]
    assert arrived == ids, "the simulator sends with the chosen id, one chat in the order accepted"
    wait_until(lambda: get(ids[-1]).get_json()["status"] == "read", timeout=5)
    status = get(ids[0]).get_json()
    assert (status["waMessageId"], status["chat"], status["to"]) == (ids[0], "5511922222222@s.whatsapp.net",
                                                                      "+551122222222")
    assert get("3EB0000000000000000000").status_code == 404


def test_http_422_for_a_number_without_an_account(api):
    post, sink, get = api
    resp = post({"clientId": "alice", "to": "+49 151 0000 0000", "text": "hi"})
    assert resp.status_code == 422 and resp.get_json()["error"] == "recipient_not_on_whatsapp", resp.get_json()
    assert "messageId" not in resp.get_json()


# ---- the simulator's answer to "is this number on WhatsApp?" -----------------------------------
@pytest.mark.parametrize("digits, forms", [
    ("551133334444", ["5511933334444"]), ("5511933334444", ["551133334444"]),  # Brazil's 9th digit
    ("5215512345678", ["525512345678"]), ("525512345678", ["5215512345678"]),  # Mexico's 1
    ("5491112345678", ["541112345678"]), ("541112345678", ["5491112345678"]),  # Argentina's 9
    ("4915123456789", []), ("551133334", []),
])
def test_other_mobile_forms(digits, forms):
    assert other_forms(digits) == forms


def test_the_simulated_lookup_answers_like_whatsapp():
    network = SimNetwork(0.1, not_on_whatsapp=frozenset({"4915100000000"}))
    network.attach("5511933334444", endpoint=type("Quiet", (), {"receive": lambda self, e: False})())
    try:
        assert network.lookup("551133334444") == "5511933334444@s.whatsapp.net", "the form the account has"
        assert network.lookup("5511933334444") == "5511933334444@s.whatsapp.net"
        assert network.lookup("4915100000000") is None
        assert network.lookup("4915100000001") == "4915100000001@s.whatsapp.net", "unknown: on WhatsApp as given"
    finally:
        network.close()
