"""End to end: POST /api/messages/send on the simulator backend with MariaDB."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def server(mariadb, tmp_path_factory):
    """Ten clients that stay PAIRING (their simulated phones take a minute to enter the code)."""
    data_dir = tmp_path_factory.mktemp("messages") / "data"
    server = ServerProcess(data_dir, {**mariadb.env(mariadb.new_database()), "SIM_PAIR_DELAY": "60"}).start()
    for i in range(10):
        resp = server.request("POST", "/api/clients", {"clientId": f"sender{i}", "phone": f"+49 151 000 {i:04d}"})
        assert resp.status == 201, resp
    yield server
    server.close()


NOT_ON_WHATSAPP = "+49 151 0000 0000"
BR_PHONE, BR_WITHOUT_9 = "+55 11 93333-4444", "+55 11 3333-4444"


def send(server, body, **kw):
    return server.request("POST", "/api/messages/send", body, **kw)


@pytest.fixture(scope="module")
def fast_pairing_server(mariadb, tmp_path_factory):
    """A second server whose simulated phones enter codes at once, for READY clients; one of them has
    a Brazilian number (with the 9th digit), and WhatsApp knows no account for NOT_ON_WHATSAPP."""
    data_dir = tmp_path_factory.mktemp("messages-ready") / "data"
    server = ServerProcess(data_dir, {**mariadb.env(mariadb.new_database()), "SIM_PAIR_DELAY": "0.2",
                                      "SIM_NOT_ON_WHATSAPP": NOT_ON_WHATSAPP}).start()
    for i in range(10):
        assert server.request("POST", "/api/clients", {"clientId": f"r{i}", "phone": f"+44 7700 90{i:04d}"}).status == 201
    assert server.request("POST", "/api/clients", {"clientId": "br", "phone": BR_PHONE}).status == 201
    server.wait_all_ready(11, timeout=30)
    yield server
    server.close()


def test_success_shape_and_unicode(fast_pairing_server):
    text = "Grüße 👋🏽 שלום مرحبا e\u0301 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0001F9D1\u200D\U0001F4BB"
    resp = send(fast_pairing_server, {"clientId": "r0", "to": "+49 (151) 234-56.78", "text": text})
    assert resp.status == 200, resp
    body = resp.json
    assert body["success"] is True and body["clientId"] == "r0"
    assert body["to"] == "491512345678@s.whatsapp.net"
    assert body["messageId"] == body["waMessageId"], "the simulator sends with the id wamulti chose"
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None


def test_group_and_user_jids_are_accepted(fast_pairing_server):
    made = fast_pairing_server.request("POST", "/api/clients/r1/groups",
                                       {"subject": "r", "participants": ["+447700900002"]})
    assert made.status == 201, made
    for to in (made.json["id"], "4915123456789@s.whatsapp.net"):
        resp = send(fast_pairing_server, {"clientId": "r1", "to": to, "text": "hi"})
        assert resp.status == 200 and resp.json["to"] == to, resp
    resp = send(fast_pairing_server, {"clientId": "r1", "to": "120363025246125486@g.us", "text": "hi"})
    assert resp.status == 502 and resp.json["error"] == "upstream_error", "not a member: WhatsApp refuses it"


@pytest.mark.parametrize("body, field", [
    ({"clientId": "r0", "to": "+4915123456789"}, "text"),
    ({"clientId": "r0", "to": "+4915123456789", "text": ""}, "text"),
    ({"clientId": "r0", "to": "+4915123456789", "text": 42}, "text"),
    ({"clientId": "r0", "to": "+4915123456789", "text": "x" * 65537}, "text"),
    ({"clientId": "r0", "to": "012345678", "text": "hi"}, "to"),
    ({"clientId": "r0", "to": "12345", "text": "hi"}, "to"),
    ({"clientId": "r0", "to": ["4915123456789"], "text": "hi"}, "to"),
    ({"clientId": "bad id!", "to": "+4915123456789", "text": "hi"}, "clientId"),
    ({"to": "+4915123456789", "text": "hi"}, "clientId"),
])
def test_validation_errors_are_400_naming_the_field(fast_pairing_server, body, field):
    resp = send(fast_pairing_server, body)
    assert resp.status == 400, resp
    assert resp.json["error"] == "invalid_request" and field in resp.json["message"]


def test_max_length_text_is_accepted(fast_pairing_server):
    assert send(fast_pairing_server, {"clientId": "r2", "to": "4915123456789", "text": "é" * 65536}).status == 200


def test_validation_comes_before_lookup_and_state(fast_pairing_server, server):
    assert send(fast_pairing_server, {"clientId": "nobody", "to": "+4915123456789", "text": ""}).status == 400
    assert send(server, {"clientId": "sender0", "to": "x", "text": "hi"}).status == 400


def test_unknown_client_is_404(fast_pairing_server):
    resp = send(fast_pairing_server, {"clientId": "nobody", "to": "+4915123456789", "text": "hi"})
    assert resp.status == 404 and resp.json["error"] == "not_found"


def test_not_ready_is_503_with_retry_after_and_state(server):
    resp = send(server, {"clientId": "sender0", "to": "+4915123456789", "text": "hi"})
    assert resp.status == 503, resp
    assert resp.json["error"] == "client_not_ready" and resp.json["currentState"] == "PAIRING"
    assert int(resp.headers["retry-after"]) > 0


def test_200_parallel_sends_across_10_clients(fast_pairing_server):
    ids, failures = [], []

    def worker(k):
        for n in range(20):
            resp = send(fast_pairing_server, {"clientId": f"r{(k + n) % 10}", "to": "+4915123456789", "text": f"{k}/{n}"})
            # past HTTP_THREADS / 2 waiting requests a send answers 202 at once (it goes on in the queue)
            (ids if resp.status in (200, 202) else failures).append(resp.json.get("messageId")
                                                                     if resp.status in (200, 202) else resp)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == [] and len(ids) == 200 and len(set(ids)) == 200
    fast_pairing_server.wait_for(lambda: all(fast_pairing_server.request("GET", f"/api/messages/{i}").json["status"]
                                             in ("sent", "server", "delivered", "read") for i in ids), 30, "all sent")


def test_a_number_not_on_whatsapp_is_422_and_nothing_is_sent(fast_pairing_server):
    resp = send(fast_pairing_server, {"clientId": "r4", "to": NOT_ON_WHATSAPP, "text": "hello?"})
    assert resp.status == 422 and resp.json["error"] == "recipient_not_on_whatsapp", resp
    acks = fast_pairing_server.request("GET", "/api/events?clientId=r4&type=message.ack&limit=1000").json["events"]
    assert not [a for a in acks if a["data"]["chat"].startswith("4915100000000")], "nothing went out"


def test_a_brazilian_number_without_the_9th_digit_reaches_the_account_whatsapp_knows(fast_pairing_server):
    resp = send(fast_pairing_server, {"clientId": "r5", "to": BR_WITHOUT_9, "text": "oi"})
    assert resp.status == 200, resp
    assert resp.json["to"] == "5511933334444@s.whatsapp.net"
    wa_id = resp.json["waMessageId"]
    fast_pairing_server.wait_for(lambda: any(
        e["data"]["id"] == wa_id and e["data"]["text"] == "oi" for e in fast_pairing_server.request(
            "GET", "/api/events?clientId=br&type=message").json["events"]), 10, "the message at the account")
    acks = fast_pairing_server.request("GET", "/api/events?clientId=r5&type=message.ack&limit=1000").json["events"]
    mine = {(a["data"]["messageId"], a["data"]["status"]) for a in acks if a["data"]["id"] == wa_id}
    assert (resp.json["messageId"], "server") in mine, "the ack carries both ids"
