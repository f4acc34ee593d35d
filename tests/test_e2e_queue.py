"""End to end: the outbound queue through `python wsgi.py` on the simulator backend: a SIGKILL with
sends queued (each sent at most once, in order per chat, the rest after the restart), idempotent
retries under concurrency (one message at the receiving client), a stalled upstream that leaves the
status routes answering, and the queue bound with the rate cap."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from tests.server_process import ServerProcess

CLIENTS = {"alice": "+4915100000001", "bob": "+4915100000002", "carol": "+4915100000003"}
FINAL = ("sent", "server", "delivered", "read", "failed")


def start(tmp_path, **env) -> ServerProcess:
    return ServerProcess(tmp_path / "data", {"SIM_PAIR_DELAY": "0.1", **env}).start()


def create_ready(server, names) -> None:
    for name in names:
        resp = server.request("POST", "/api/clients", {"clientId": name, "phone": CLIENTS[name]})
        assert resp.status == 201, resp
    server.wait_all_ready(len(names), timeout=30)


def send(server, to, text, *, wait=False, key=None, client="alice"):
    headers = {"Idempotency-Key": key} if key else None
    return server.request("POST", "/api/messages/send", {"clientId": client, "to": to, "text": text, "wait": wait},
                          headers=headers)


def status(server, message_id) -> dict:
    resp = server.request("GET", f"/api/messages/{message_id}")
    assert resp.status == 200, resp
    return resp.json


def received(server, client_id) -> list[dict]:
    resp = server.request("GET", f"/api/events?clientId={client_id}&type=message&limit=1000")
    assert resp.status == 200, resp
    return [e["data"] for e in resp.json["events"]]


def test_sigkill_with_sends_queued_sends_each_at_most_once_in_order_and_the_rest_after_restart(tmp_path):
    server = start(tmp_path, SIM_SEND_DELAY="0.1")
    try:
        create_ready(server, ["alice", "bob", "carol"])
        ids = {to: [] for to in ("+4915100000002", "+4915100000003")}
        for i in range(15):
            for to in ids:
                resp = send(server, to, f"{to[-1]}-{i:02d}")
                assert resp.status == 202, resp
                ids[to].append(resp.json["messageId"])
        time.sleep(0.35)  # a few went out, one per chat is under way
        server.kill()
    finally:
        server.close()
    killed_at = datetime.now(timezone.utc)
    again = start(tmp_path, SIM_SEND_DELAY="0.01")
    try:
        every = [i for chat in ids.values() for i in chat]
        again.wait_for(lambda: all(status(again, i)["status"] in FINAL for i in every), 30, "every send final")
        rows = {i: status(again, i) for i in every}
        for client, chat in (("bob", ids["+4915100000002"]), ("carol", ids["+4915100000003"])):
            got = [m["id"] for m in received(again, client)]
            assert len(got) == len(set(got)), "nothing arrived twice"
            assert got == [i for i in chat if i in got], "in the order accepted"
            sent_before_kill = [i for i in chat if rows[i]["sentAt"] and datetime.fromisoformat(rows[i]["sentAt"]) < killed_at]
            for i in chat:
                if rows[i]["status"] == "failed":
                    assert rows[i]["reason"] == "outcome_unknown", rows[i]
                elif i not in got:
                    # The simulator's network lives in the killed process: a message WhatsApp (the
                    # simulator) accepted just before the kill can be lost on its way to bob there, as
                    # it never would be on WhatsApp's servers. Only the last ones before the kill, never after.
                    assert i in sent_before_kill[-2:], rows[i]
        unknown = [i for i, r in rows.items() if r["status"] == "failed"]
        assert len(unknown) <= 2, "at most the one under way per chat"
        assert sum(r["status"] != "failed" for r in rows.values()) >= 28
    finally:
        again.close()


def test_idempotent_retries_under_concurrency_send_one_message(tmp_path):
    server = start(tmp_path, SIM_SEND_DELAY="0.3")
    try:
        create_ready(server, ["alice", "bob"])
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(lambda i: send(server, "+4915100000002", "transfer 10 EUR", wait=i % 3 == 0,
                                                   key='"order-42"'), range(12)))
        assert {a.status for a in answers} <= {200, 202}, answers
        [message_id] = {a.json["messageId"] for a in answers}
        server.wait_for(lambda: status(server, message_id)["status"] in ("server", "delivered", "read"), 10, "sent")
        again = send(server, "+4915100000002", "transfer 10 EUR", key='"order-42"')
        assert again.status == 200 and again.json["messageId"] == message_id, again
        other = send(server, "+4915100000002", "transfer 99 EUR", key='"order-42"')
        assert other.status == 422 and other.json["error"] == "idempotency_key_reused", other
        time.sleep(0.5)
        assert [m["text"] for m in received(server, "bob")] == ["transfer 10 EUR"], "sent once"
    finally:
        server.close()


def test_a_stalled_upstream_with_100_sends_in_flight_leaves_the_status_routes_answering(tmp_path):
    server = start(tmp_path, SIM_SEND_DELAY="60", HTTP_THREADS="8", SEND_WAIT="4")
    try:
        create_ready(server, ["alice"])
        with ThreadPoolExecutor(100) as pool:
            futures = [pool.submit(send, server, f"+49151000{n:05d}", "hello?", wait=True) for n in range(100)]
            server.wait_for(lambda: sum(f.done() for f in futures) >= 96, 30, "the non-waiting sends answered")
            slowest = 0.0
            for _ in range(10):
                for path in ("/healthz", "/api/clients"):
                    began = time.monotonic()
                    assert server.request("GET", path).status == 200
                    slowest = max(slowest, time.monotonic() - began)
            assert slowest < 0.1, f"a status route took {slowest * 1000:.0f} ms"
            answers = [f.result(30) for f in futures]
        assert sorted(a.status for a in answers) == [202] * 100, "no request waits past SEND_WAIT"
        assert {a.json["status"] for a in answers} <= {"queued", "sending"}
    finally:
        server.kill()
        server.close()


def test_the_queue_bound_answers_429_and_the_rate_cap_keeps_the_rest_queued(tmp_path):
    server = start(tmp_path, SEND_QUEUE_MAX="3", SEND_RATE_PER_MINUTE="120", SIM_SEND_DELAY="0.3")
    try:
        create_ready(server, ["alice", "bob"])
        answers = [send(server, "+4915100000002", f"m{i}") for i in range(4)]
        assert [a.status for a in answers] == [202, 202, 202, 429], answers
        assert answers[3].json["error"] == "queue_full" and answers[3].headers["retry-after"] == "10"
        assert status(server, answers[2].json["messageId"])["status"] == "queued", "waiting for its turn"
        ids = [a.json["messageId"] for a in answers[:3]]
        server.wait_for(lambda: all(status(server, i)["status"] in FINAL for i in ids), 10, "all sent")
        sent_at = [status(server, i)["sentAt"] for i in ids]
        assert sent_at == sorted(sent_at)
        first, last = (time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + float(t[19:-1] or 0)
                       for t in (sent_at[0], sent_at[-1]))
        assert last - first >= 0.9, "two gaps of 0.5 s at 120 a minute"
    finally:
        server.close()
