"""End to end: what clients hear reaches signed webhooks, through `python wsgi.py`, the simulator's
loopback network, the real worker, a real MariaDB outbox and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from tests.server_process import ServerProcess
from tests.webhook_receiver import HANG, Receiver
from wamulti.hearing.event_fields import new_secret

ALICE, BOB = "+49 151 0000 0001", "+49 151 0000 0002"
ALICE_JID, BOB_JID = "4915100000001@s.whatsapp.net", "4915100000002@s.whatsapp.net"


@pytest.fixture
def receiver():
    receiver = Receiver(new_secret())
    yield receiver
    receiver.close()


def start_server(tmp_path, mariadb, receiver, database=None, **env) -> ServerProcess:
    settings = {**mariadb.env(database or mariadb.new_database()), "SIM_PAIR_DELAY": "0.2",
                "SIM_READ_DELAY": "0.3", "WEBHOOK_URL": receiver.url("/hook"), "WEBHOOK_SECRET": receiver.secret,
                "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8", **env}  # per-client webhooks go to the loopback receiver
    return ServerProcess(tmp_path / "data", settings).start()


def create_ready(server, clients: dict[str, str]) -> None:
    for client_id, phone in clients.items():
        assert server.request("POST", "/api/clients", {"clientId": client_id, "phone": phone}).status == 201
    server.wait_all_ready(len(clients), timeout=30)


def send(server, client_id, to, text):
    resp = server.request("POST", "/api/messages/send", {"clientId": client_id, "to": to, "text": text})
    assert resp.status == 200, resp
    return resp.json["messageId"]


def events_of(server, **query) -> list[dict]:
    """Every stored event matching the query, following the cursor."""
    found, after = [], None
    while True:
        params = "&".join(f"{k}={v}" for k, v in {**query, "limit": 500, **({"after": after} if after else {})}.items())
        page = server.request("GET", f"/api/events?{params}")
        assert page.status == 200, page
        found += page.json["events"]
        after = page.json["next"]
        if after is None:
            return found


def hits_of(receiver, client_id, type_):
    return [h.event for h in receiver.attempts(client_id) if h.event.get("type") == type_
            and isinstance(h.status, int) and 200 <= h.status < 300]


def test_a_text_from_alice_reaches_bobs_webhook_and_alice_hears_its_acks_in_order(tmp_path, mariadb, receiver):
    server = start_server(tmp_path, mariadb, receiver)
    try:
        create_ready(server, {"alice": ALICE, "bob": BOB})
        message_id = send(server, "alice", BOB, "Hallo Bob 👋")
        [message] = receiver.wait_for(lambda: hits_of(receiver, "bob", "message"), what="bob's message")
        assert message["data"]["text"] == "Hallo Bob 👋" and message["data"]["id"] == message_id
        assert (message["data"]["from"], message["data"]["chat"]) == ("4915100000001", ALICE_JID)
        acks = receiver.wait_for(lambda: (lambda a: a if len(a) == 3 else None)(
            [(e["data"]["id"], e["data"]["status"]) for e in hits_of(receiver, "alice", "message.ack")]),
            what="alice's three acks")
        assert acks == [(message_id, "server"), (message_id, "delivered"), (message_id, "read")]
        assert all(hit.verified for hit in receiver.attempts()), "every request carries a valid signature"
        stored = {e["id"]: e for e in events_of(server)}
        heard = [message["id"], *(e["id"] for e in hits_of(receiver, "alice", "message.ack"))]
        server.wait_for(lambda: all(e["delivery"] == "delivered" for e in
                                    (ev for ev in events_of(server) if ev["id"] in heard)), what="marked delivered")
        assert set(heard) <= set(stored)
        states = [e["data"]["state"] for e in hits_of(receiver, "bob", "client.state")]
        assert states[-1] == "READY", "state changes are events too"
    finally:
        server.close()


def test_500_pending_events_survive_a_sigkill_and_all_arrive_in_order_after_restart(tmp_path, mariadb, receiver):
    receiver.answer("/hook", lambda hit: 500)  # the receiver is down while the events pile up
    database = mariadb.new_database()
    server = start_server(tmp_path, mariadb, receiver, database)
    try:
        create_ready(server, {"alice": ALICE, "bob": BOB})
        for i in range(125):  # each send: bob's message and alice's server, delivered and read acks
            send(server, "alice", BOB, f"message {i}")
        pending = server.wait_for(lambda: (lambda evs: evs if sum(
            e["type"] in ("message", "message.ack") for e in evs) >= 500 else None)(events_of(server)),
            what="500 message events stored")
        assert not receiver.delivered(), "nothing was accepted by the receiver yet"
        server.kill()
    finally:
        server.close()
    receiver.answer("/hook", lambda hit: 200)
    server = start_server(tmp_path, mariadb, receiver, database)
    try:
        wanted = {e["id"] for e in pending}
        receiver.wait_for(lambda: wanted <= set(receiver.delivered()), timeout=120, what="every pending event")
        for client_id in ("alice", "bob"):
            first_seen = list(dict.fromkeys(receiver.delivered(client_id)))
            assert first_seen == sorted(first_seen), f"{client_id}'s events arrived in order"
    finally:
        server.close()


def test_a_webhook_that_never_answers_slows_neither_sends_nor_another_clients_deliveries(tmp_path, mariadb,
                                                                                          receiver):
    receiver.answer("/hang", lambda hit: HANG)
    server = start_server(tmp_path, mariadb, receiver)
    try:
        create_ready(server, {"alice": ALICE, "bob": BOB})
        resp = server.request("PUT", "/api/clients/alice/webhook", {"url": receiver.url("/hang")})
        assert resp.status == 200, resp
        send(server, "alice", BOB, "the first ack of this goes to the hanging webhook")
        receiver.wait_for(lambda: any(h.path == "/hang" for h in receiver.attempts()), what="a hanging delivery")
        started = time.monotonic()
        ids = [send(server, "alice", BOB, f"while hanging {i}") for i in range(20)]
        assert time.monotonic() - started < 5, "sends do not wait for webhooks"
        receiver.wait_for(lambda: {m["data"]["id"] for m in hits_of(receiver, "bob", "message")} >= set(ids),
                          timeout=15, what="bob's deliveries while alice's webhook hangs")
        assert len([h for h in receiver.attempts() if h.path == "/hang"]) == 1, "alice's later events wait behind it"
    finally:
        server.close()


@pytest.mark.slow
def test_two_servers_on_one_database_ride_out_a_receiver_failing_for_30_seconds(tmp_path, mariadb, receiver):
    """Both instances restore and run the same clients and share the outbox: every event arrives, per
    client in order, and no event and no client is ever in flight on both at once."""
    failing_until = time.monotonic() + 30
    receiver.answer("/hook", lambda hit: (time.sleep(0.02), 500 if time.monotonic() < failing_until else 200)[1])
    database = mariadb.new_database()
    first = start_server(tmp_path / "one", mariadb, receiver, database)
    second = None
    try:
        create_ready(first, {"alice": ALICE, "bob": BOB})
        second = start_server(tmp_path / "two", mariadb, receiver, database)
        second.wait_all_ready(2, timeout=30)
        for i in range(25):
            send(first, "alice", BOB, f"from the first {i}")
            send(second, "bob", ALICE, f"from the second {i}")
        stored = first.wait_for(lambda: (lambda evs: evs if sum(e["type"] == "message" for e in evs) == 50
                                         else None)(events_of(first)), what="50 messages stored")
        assert time.monotonic() < failing_until, "the events piled up while the receiver was failing"
        wanted = {e["id"] for e in stored if e["delivery"] != "none"}
        receiver.wait_for(lambda: wanted <= set(receiver.delivered()), timeout=90, what="every event delivered")
        assert any(h.status == 500 for h in receiver.attempts()), "the receiver did fail"
        for client_id in ("alice", "bob"):
            first_seen = [i for i in dict.fromkeys(receiver.delivered(client_id)) if i in wanted]
            assert first_seen == sorted(first_seen), f"{client_id}'s events arrived in order"
        assert receiver.max_in_flight_per_event == 1 and receiver.max_in_flight_per_client == 1
    finally:
        first.close()
        if second is not None:
            second.close()
