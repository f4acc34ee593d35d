"""Retry rules (backoff, jitter, give-up, final 4xx, Retry-After) and the delivery work queue."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest

from wamulti.hearing.delivery_lanes import WorkQueue
from wamulti.hearing.event_model import DeliveryState
from wamulti.hearing.retry import Outcome, RetryPolicy, parse_retry_after

T0 = datetime(2026, 1, 1, 12, 0, 0)


def policy(**kw) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(7), **kw)


def test_backoff_starts_at_one_second_doubles_with_jitter_and_stops_at_one_hour():
    p = policy()
    for attempts, base in [(1, 1), (2, 2), (3, 4), (10, 512), (12, 2048)]:
        assert all(0.8 * base <= p.delay(attempts) <= 1.2 * base for _ in range(50))
    assert all(p.delay(n) <= 3600 for n in (13, 20, 100, 10_000))
    assert len({round(p.delay(5), 6) for _ in range(20)}) > 1, "jittered"


def test_success_is_any_2xx():
    for status in (200, 201, 202, 204, 299):
        assert policy().decide(Outcome(status), 1, T0, T0).delivery == DeliveryState.DELIVERED


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_a_final_4xx_fails_at_once(status):
    assert policy().decide(Outcome(status), 1, T0, T0).delivery == DeliveryState.FAILED


@pytest.mark.parametrize("outcome", [Outcome(408), Outcome(409), Outcome(425), Outcome(429), Outcome(500),
                                     Outcome(503), Outcome(302), Outcome(error="connection refused")])
def test_retryable_outcomes_are_tried_again_after_the_backoff(outcome):
    decision = policy().decide(outcome, 3, T0, T0)
    assert decision.delivery == DeliveryState.PENDING
    assert timedelta(seconds=3.2) <= decision.next_at - T0 <= timedelta(seconds=4.8)


def test_retry_after_replaces_the_backoff():
    decision = policy().decide(Outcome(429, retry_after=120), 1, T0, T0)
    assert decision.next_at - T0 == timedelta(seconds=120)
    assert policy().decide(Outcome(503, retry_after=0), 1, T0, T0).next_at - T0 == timedelta(seconds=1)


def test_an_event_failing_for_24_hours_is_given_up():
    now = T0 + timedelta(hours=24)
    assert policy().decide(Outcome(500), 30, T0, now - timedelta(seconds=1)).delivery == DeliveryState.PENDING
    assert policy().decide(Outcome(500), 31, T0, now).delivery == DeliveryState.FAILED


def test_retry_after_is_read_as_seconds_or_an_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("-3") is None


def test_the_work_queue_hands_each_client_to_one_taker_at_a_time():
    queue = WorkQueue()
    for client_id in ("a", "b", "a"):
        queue.offer(client_id)
    assert queue.take() == "a" and queue.take() == "b"
    queue.offer("a")  # offered while busy: queued again once done
    queue.done("b")
    queue.done("a")
    assert queue.take() == "a"
    queue.done("a", again=True)
    assert queue.take() == "a"


def test_closing_the_work_queue_wakes_its_takers():
    queue, got = WorkQueue(), []
    takers = [threading.Thread(target=lambda: got.append(queue.take())) for _ in range(3)]
    for t in takers:
        t.start()
    queue.close()
    for t in takers:
        t.join(5)
    assert got == [None, None, None]
