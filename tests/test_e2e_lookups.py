"""End to end on the simulator through `python wsgi.py`: presence, number checks, contacts, pictures, the
own profile, answering a `@lid` sender, reactions / edits / revokes and calls as signed webhook events."""

from __future__ import annotations

import pytest

from tests.server_process import ServerProcess
from tests.webhook_receiver import Receiver
from wamulti.backends.simulator.simnet import lid_of
from wamulti.hearing.event_fields import new_secret

ALICE, BOB, CAROL = "4915100000001", "4915100000002", "4915100000003"
ALICE_JID, BOB_JID = f"{ALICE}@s.whatsapp.net", f"{BOB}@s.whatsapp.net"
NOT_ON_WHATSAPP = "4915100000099"
REPLY = "Sorry, I cannot take calls here: please write."


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver(new_secret())
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    """alice, bob and carol READY; the global webhook takes '*'; bob's own webhook also opts in to presence."""
    env = {"SIM_PAIR_DELAY": "0.2", "SIM_READ_DELAY": "0.2", "SIM_SEND_DELAY": "0", "WEBHOOK_URL": receiver.url("/all"),
           "WEBHOOK_SECRET": receiver.secret, "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
           "SIM_NOT_ON_WHATSAPP": NOT_ON_WHATSAPP, "REJECT_CALLS": "on", "REJECT_CALLS_MESSAGE": REPLY}
    server = ServerProcess(tmp_path_factory.mktemp("lookups") / "data", env).start()
    for client_id, phone in (("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
        assert server.request("POST", "/api/clients", {"clientId": client_id, "phone": f"+{phone}"}).status == 201
    server.wait_all_ready(3, timeout=30)
    hook = {"url": receiver.url("/bob"), "secret": receiver.secret, "events": ["*", "presence"]}
    assert server.request("PUT", "/api/clients/bob/webhook", hook).status == 200
    yield server
    server.close()


def send(server, client_id, to, text):
    resp = server.request("POST", "/api/messages/send", {"clientId": client_id, "to": to, "text": text})
    assert resp.status == 200, resp
    return resp.json


def events(receiver, client_id, type_, path=None):
    return [h.event["data"] for h in receiver.attempts(client_id) if h.event.get("type") == type_
            and h.status == 200 and h.verified and (path is None or h.path == path)]


def wait_event(receiver, client_id, type_, match=lambda d: True, path=None):
    return receiver.wait_for(lambda: next((d for d in events(receiver, client_id, type_, path) if match(d)), None),
                             what=f"{client_id}'s {type_}")


def test_typing_reaches_only_the_webhook_that_names_presence(server, receiver):
    resp = server.request("POST", "/api/clients/alice/presence", {"chat": f"+{BOB}", "state": "composing"})
    assert resp.status == 200 and resp.json == {"clientId": "alice", "state": "composing", "chat": BOB_JID}, resp
    seen = wait_event(receiver, "bob", "presence", lambda d: d["state"] == "composing", path="/bob")
    assert seen == {"jid": ALICE_JID, "phone": ALICE, "state": "composing", "chat": ALICE_JID, "lastSeen": None}
    assert server.request("POST", "/api/clients/alice/presence", {"chat": BOB_JID, "state": "recording"}).status == 200
    wait_event(receiver, "bob", "presence", lambda d: d["state"] == "recording", path="/bob")
    assert not events(receiver, "alice", "presence") and not [h for h in receiver.attempts()
                                                              if h.path == "/all" and h.event.get("type") == "presence"]


@pytest.mark.parametrize("body", [{"state": "composing"}, {"chat": BOB_JID, "state": "available"},
                                  {"chat": BOB_JID, "state": "dancing"}, {"chat": "012345", "state": "paused"}, {}])
def test_a_presence_that_does_not_fit_is_400(server, body):
    resp = server.request("POST", "/api/clients/alice/presence", body)
    assert resp.status == 400 and resp.json["error"] == "invalid_request", resp


def test_check_answers_each_number_and_reports_bad_entries(server):
    numbers = [f"+{BOB}", f"+{NOT_ON_WHATSAPP}", "0151 123", f"+{CAROL}"]
    resp = server.request("POST", "/api/clients/alice/check", {"numbers": numbers})
    assert resp.status == 200, resp
    results = resp.json["results"]
    assert [r["input"] for r in results] == numbers
    assert results[0] == {"input": numbers[0], "onWhatsApp": True, "jid": BOB_JID}
    assert results[1] == {"input": numbers[1], "onWhatsApp": False, "jid": None}
    assert results[2]["onWhatsApp"] is None and "numbers[2]" in results[2]["error"]
    assert results[3]["jid"] == f"{CAROL}@s.whatsapp.net"


def test_check_refuses_more_than_fifty_numbers_or_none(server):
    for numbers in ([f"+49151{i:07d}" for i in range(51)], []):
        resp = server.request("POST", "/api/clients/alice/check", {"numbers": numbers})
        assert resp.status == 400 and "numbers" in resp.json["message"], resp


def test_contacts_picture_and_profile(server):
    send(server, "carol", f"+{ALICE}", "hi alice")
    contacts = server.request("GET", "/api/clients/carol/contacts")
    assert contacts.status == 200, contacts
    assert {"jid": ALICE_JID, "phone": ALICE, "name": None, "pushName": "alice"} in contacts.json["contacts"]
    picture = server.request("GET", f"/api/clients/carol/picture?jid={ALICE_JID}")
    assert picture.status == 200 and picture.json["url"].endswith(f"/{ALICE}.jpg"), picture
    missing = server.request("GET", f"/api/clients/carol/picture?jid=%2B{NOT_ON_WHATSAPP}")
    assert missing.status == 404 and missing.json["error"] == "no_picture", missing
    assert server.request("GET", "/api/clients/carol/picture?jid=nonsense@x").status == 400
    profile = server.request("GET", "/api/clients/carol/profile")
    assert profile.json == {"clientId": "carol", "jid": "4915100000003@s.whatsapp.net", "name": "carol",
                            "about": "Hey there! I am using WhatsApp."}, profile


def test_a_lid_sender_is_answered_at_its_lid(server, receiver):
    """carol writes to bob's privacy id: bob sees her only by hers (no phone: a first contact), and answers it."""
    sent = send(server, "carol", f"{lid_of(BOB)}@lid", "by lid")
    assert sent["to"] == f"{lid_of(BOB)}@lid"
    heard = wait_event(receiver, "bob", "message", lambda d: d["text"] == "by lid", path="/bob")
    carol_lid = f"{lid_of(CAROL)}@lid"
    assert (heard["fromJid"], heard["chat"], heard["from"]) == (carol_lid, carol_lid, None)
    send(server, "bob", heard["fromJid"], "answered at your lid")
    back = wait_event(receiver, "carol", "message", lambda d: d["text"] == "answered at your lid")
    assert back["fromJid"] == f"{lid_of(BOB)}@lid" and back["from"] == BOB, "now contacts: the phone comes along"


def test_reaction_edit_and_revoke_arrive_as_their_own_events(server, receiver):
    message_id = send(server, "alice", f"+{BOB}", "first version")["messageId"]
    wait_event(receiver, "bob", "message", lambda d: d["id"] == message_id)
    for command in (f"/sim react {message_id} 👍", f"/sim edit {message_id} second version",
                    f"/sim revoke {message_id}", f"/sim unreact {message_id}"):
        send(server, "alice", f"+{BOB}", command)
    reactions = receiver.wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        [d for d in events(receiver, "bob", "message.reaction") if d["targetId"] == message_id]))
    assert [(r["emoji"], r["removed"]) for r in reactions] == [("👍", False), (None, True)]
    assert reactions[0]["fromJid"] == ALICE_JID and reactions[0]["from"] == ALICE and not reactions[0]["fromMe"]
    edited = wait_event(receiver, "bob", "message.edited", lambda d: d["targetId"] == message_id)
    assert edited["text"] == "second version" and edited["chat"] == ALICE_JID
    revoked = wait_event(receiver, "bob", "message.revoked", lambda d: d["targetId"] == message_id)
    assert revoked["fromJid"] == ALICE_JID
    texts = [d["text"] for d in events(receiver, "bob", "message") if d["chat"] == ALICE_JID]
    assert not [t for t in texts if t and t.startswith("/sim")], "an action is not also a message"


def test_a_call_is_an_event_then_rejected_with_a_text_reply(server, receiver):
    send(server, "alice", f"+{BOB}", "/sim call video")
    call = wait_event(receiver, "bob", "call")
    assert call["fromJid"] == ALICE_JID and call["from"] == ALICE and call["video"] is True and call["callId"]
    reply = wait_event(receiver, "alice", "message", lambda d: d["text"] == REPLY)
    assert reply["fromJid"] == BOB_JID
    acks = wait_event(receiver, "bob", "message.ack", lambda d: d["chat"] == ALICE_JID and d["status"] == "read")
    assert acks["messageId"], "the reply went through bob's send queue"
