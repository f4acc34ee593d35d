"""Delivery against a real receiver on 127.0.0.1: signatures, order, retries, hangs, several instances."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.webhook_receiver import HANG, TRICKLE, Receiver
from wamulti.destinations.policy import DestinationPolicy, allowed_networks
from wamulti.hearing.webhook_directory import WebhookConfig
from wamulti.hearing.event_fields import new_secret
from wamulti.hearing.event_model import DeliveryState, EventType
from wamulti.hearing.retry import RetryPolicy
from wamulti.hearing.event_service import EventService
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord
from wamulti.store.event_rows import EventRow
from wamulti.store.client_rows import utcnow

SECRET = new_secret()
FAST = RetryPolicy(first=0.02, cap=0.2)
LOOPBACK_ALLOWED = DestinationPolicy(allowed_networks("127.0.0.0/8"))  # per-client webhooks go to the receiver


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


def make_service(store, receiver, path="/hook", **options) -> EventService:
    options = {"policy": FAST, "poll_seconds": 0.2, "send_timeout": 5.0, "destinations": LOOPBACK_ALLOWED, **options}
    service = EventService(store, global_hook=WebhookConfig(receiver.url(path), SECRET), **options)
    service.start()
    return service


@pytest.fixture
def services():
    """Started services, stopped at the end of the test."""
    made = []
    yield made
    for service in made:
        service.stop(timeout=5)


def statuses(service, client_id=None):
    return service.list_events(client_id=client_id, limit=1000).events


def settled(service, receiver):
    """The events once none is pending any more (outcomes are written in batches, shortly after)."""
    return receiver.wait_for(lambda: (s := statuses(service)) and all(x.delivery != "pending" for x in s) and s,
                             what="every outcome recorded")


def test_every_event_arrives_once_signed_with_the_stored_json(store, receiver, services):
    services.append(service := make_service(store, receiver))
    published = [service.publish("a", EventType.MESSAGE, {"text": "héllo 👋", "from": "4915123"}),
                 service.publish("b", EventType.CLIENT_STATE, {"state": "READY", "previous": "SYNCING"})]
    receiver.wait_for(lambda: len(receiver.delivered()) == 2, what="both events")
    hits = receiver.attempts()
    assert all(h.verified for h in hits), "standardwebhooks' verifier accepts every signature"
    assert sorted((h.event for h in hits), key=str) == sorted((e.to_json() for e in published), key=str)
    for hit in hits:
        assert hit.headers["content-type"] == "application/json"
        assert hit.headers["webhook-id"] == hit.event_id
        assert abs(int(hit.headers["webhook-timestamp"]) - time.time()) < 30
    rows = settled(service, receiver)
    assert [(r.delivery, r.attempts, r.last_status) for r in rows] == [("delivered", 1, 200)] * 2


def test_a_receiver_failing_for_a_while_gets_every_event_per_client_in_order(store, receiver, services):
    failing = {"until": time.monotonic() + 1.5}
    receiver.answer("/hook", lambda hit: 500 if time.monotonic() < failing["until"] else 200)
    services.append(service := make_service(store, receiver))
    published = {c: [] for c in ("a", "b", "c")}
    for n in range(60):
        client_id = "abc"[n % 3]
        published[client_id].append(service.publish(client_id, EventType.MESSAGE, {"n": n}).id)
    receiver.wait_for(lambda: len(receiver.delivered()) == 60, timeout=30, what="all 60 events")
    for client_id, ids in published.items():
        assert receiver.delivered(client_id) == ids, "each event once, in order"
        tried = [h.event_id for h in receiver.attempts(client_id)]
        assert tried == sorted(tried), "never an earlier event after a later one"
    assert any(h.status == 500 for h in receiver.attempts()), "the receiver did fail for a while"
    assert receiver.max_in_flight_per_client == 1


def test_a_final_4xx_is_not_retried_and_the_next_event_goes_on(store, receiver, services):
    receiver.answer("/hook", lambda hit: 400 if hit.event["data"]["n"] == 0 else 200)
    services.append(service := make_service(store, receiver))
    first = service.publish("a", EventType.MESSAGE, {"n": 0})
    second = service.publish("a", EventType.MESSAGE, {"n": 1})
    receiver.wait_for(lambda: receiver.delivered("a") == [second.id], what="the second event")
    assert [h.event_id for h in receiver.attempts()] == [first.id, second.id]
    failed = settled(service, receiver)[0]
    assert (failed.delivery, failed.attempts, failed.last_status, failed.last_error) == ("failed", 1, 400, "HTTP 400")


@pytest.mark.parametrize("status", [408, 409, 425, 429, 503])
def test_retryable_answers_are_retried_until_they_succeed(sqlite_store, receiver, services, status):
    answers = iter([status, status, 200])
    receiver.answer("/hook", lambda hit: next(answers))
    services.append(service := make_service(sqlite_store, receiver))
    event = service.publish("a", EventType.MESSAGE_ACK, {"status": "read"})
    receiver.wait_for(lambda: receiver.delivered() == [event.id], what="the retried event")
    assert [h.status for h in receiver.attempts()] == [status, status, 200]


def test_retry_after_of_a_429_is_honoured(sqlite_store, receiver, services):
    answers = iter([(429, {"Retry-After": "1"}), 200])
    receiver.answer("/hook", lambda hit: next(answers))
    services.append(service := make_service(sqlite_store, receiver))
    service.publish("a", EventType.MESSAGE, {})
    receiver.wait_for(lambda: len(receiver.delivered()) == 1, what="the second attempt")
    first, second = receiver.attempts()
    assert second.at - first.at >= 0.95, "the backoff alone would have retried after 20 ms"
    assert second.at - first.at < 5


def test_redirects_are_not_followed(sqlite_store, receiver, services):
    receiver.answer("/hook", lambda hit: (307, {"Location": receiver.url("/elsewhere")}))
    services.append(service := make_service(sqlite_store, receiver))
    service.publish("a", EventType.MESSAGE, {})
    receiver.wait_for(lambda: len(receiver.attempts()) >= 3, what="three attempts")
    assert {h.path for h in receiver.attempts()} == {"/hook"}
    status = statuses(service)[0]
    assert (status.delivery, status.last_status) == ("pending", 307)


def test_a_receiver_that_never_answers_does_not_delay_another_client(store, receiver, services):
    store.create_client(ClientRecord("stuck", "READY"))
    receiver.answer("/stuck", lambda hit: HANG)
    services.append(service := make_service(store, receiver, send_timeout=30.0))
    service.set_webhook("stuck", receiver.url("/stuck"), None, SECRET)
    for n in range(3):
        service.publish("stuck", EventType.MESSAGE, {"n": n})
    receiver.wait_for(lambda: receiver.attempts("stuck"), what="the hanging request")
    started = time.monotonic()
    others = [service.publish(f"free{n % 4}", EventType.MESSAGE, {"n": n}).id for n in range(40)]
    receiver.wait_for(lambda: sorted(receiver.delivered()) == sorted(others), timeout=10, what="the other clients")
    assert time.monotonic() - started < 5
    assert len(receiver.attempts("stuck")) == 1, "the stuck client's later events wait behind its first"


def test_a_receiver_trickling_bytes_is_cut_off_at_the_send_timeout(sqlite_store, receiver, services):
    answers = iter([TRICKLE, 200])
    receiver.answer("/hook", lambda hit: next(answers))
    services.append(service := make_service(sqlite_store, receiver, send_timeout=1.0))
    event = service.publish("a", EventType.MESSAGE, {})
    receiver.wait_for(lambda: receiver.delivered() == [event.id], timeout=10, what="the retry after the cut")
    first, second = receiver.attempts()
    assert 0.9 <= second.at - first.at < 4, "each byte came within the socket timeout; the deadline cut it"


def test_stopping_cuts_a_hanging_post_off_and_leaves_its_event_pending(sqlite_store, receiver):
    receiver.answer("/hook", lambda hit: HANG)
    service = make_service(sqlite_store, receiver, send_timeout=30.0)
    service.publish("a", EventType.MESSAGE, {})
    receiver.wait_for(lambda: receiver.attempts(), what="the hanging request")
    started = time.monotonic()
    service.stop(timeout=5)
    assert time.monotonic() - started < 2
    status = statuses(service)[0]
    assert (status.delivery, status.attempts) == ("pending", 0)
    assert sqlite_store.claim_events("a", "next-start", 30), "the lane was given back"


def test_a_dead_instances_claim_runs_out_and_its_event_is_delivered(store, receiver, services):
    orphan = EventRow("evt_01M88P8GJ30384A4P7D01BTR9D", "a", "message", '{"id":"evt_01M88P8GJ30384A4P7D01BTR9D"}',
                      "pending", created_at=utcnow(), queued_at=utcnow(), next_at=utcnow())
    store.add_events([orphan])
    assert store.claim_events("a", "killed-instance", 1.0)  # claimed, then its holder was SIGKILLed
    claimed_at = time.monotonic()
    services.append(make_service(store, receiver))
    receiver.wait_for(lambda: receiver.delivered() == [orphan.event_id], timeout=10, what="the orphaned event")
    assert time.monotonic() - claimed_at >= 0.9, "not before the dead instance's lease ran out"


def test_two_instances_on_one_mariadb_never_have_an_event_in_flight_twice(mariadb, receiver, services):
    settings = mariadb.settings(mariadb.new_database())
    stores = [open_store(settings), open_store(settings)]
    receiver.answer("/hook", lambda hit: (time.sleep(0.005), 500 if hit.event["data"]["n"] % 7 == 0
                                          and len(receiver.attempts()) < 40 else 200)[1])
    for s in stores:
        services.append(make_service(s, receiver))
    published: dict[str, list[str]] = {}
    for n in range(120):
        client_id = f"c{n % 6}"
        owner = services[n % 6 % 2]  # each client lives on one instance; both instances deliver
        published.setdefault(client_id, []).append(owner.publish(client_id, EventType.MESSAGE, {"n": n}).id)
    receiver.wait_for(lambda: len(receiver.delivered()) >= 120, timeout=60, what="all 120 events")
    assert receiver.max_in_flight_per_event == 1 and receiver.max_in_flight_per_client == 1
    for client_id, ids in published.items():
        assert receiver.delivered(client_id) == ids
    for s in stores:
        s.close()


def test_old_finished_events_are_pruned_and_pending_ones_kept(store, receiver, services):
    old = (utcnow() - timedelta(hours=80))
    base = "evt_" + "0" * 10  # ids from 1970 sort before any made now
    rows = [EventRow(f"{base}{'0' * 15}{n}", "a", "message", "{}", d, created_at=old)
            for n, d in enumerate(["delivered", "failed", "none"])]
    store.add_events(rows)
    services.append(make_service(store, receiver, retention_hours=72))
    receiver.wait_for(lambda: not store.list_events(client_id="a"), what="pruning")
    assert DeliveryState.PENDING not in {r.delivery for r in store.list_events()}
