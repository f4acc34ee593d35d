"""Message actions over HTTP, in-process, on the real app, registry, queue and simulator: alice
reacts to, edits and revokes what she sent bob (by wamulti's messageId and by WhatsApp's id) and
bob sees each; alice marks bob's messages read and bob hears the `read` ack; an edit accepted right
after its send waits for it in the same chat line; an action on a failed send is refused (409) or
fails in its turn, naming the send; scoped keys, idempotency, the 15-minute edit window, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import wait_until
from tests.fake_backend import FakePrompter
from tests.test_worker_hearing import RecordingSink
from wamulti.backends.simulator.sim_backend import SimulatorBackend
from wamulti.clients.registry import ClientRegistry
from wamulti.clients.states import READY
from wamulti.config import Settings
from wamulti.keys import ApiKeys
from wamulti.sending.action_payloads import ActionRequest, action_payload
from wamulti.sending.send_options import SendOptions
from wamulti.sending.sender import new_message_id
from wamulti.store.client_rows import utcnow
from wamulti.store.send_rows import SERVER, OutboundRow
from wamulti.web.app import create_app

KEY = "actions-admin-key-0123456789"
ALICE, BOB, NOBODY = "4915111111111", "4915122222222", "4915199999999"
ALICE_JID, BOB_JID = f"{ALICE}@s.whatsapp.net", f"{BOB}@s.whatsapp.net"


class World:
    """alice and bob READY on one simulator network whose own read receipts come after a minute (a
    `read` ack sooner is a read mark); NOBODY is not on WhatsApp."""

    def __init__(self, tmp_path, store, send_delay: float = 0.0):
        self.store = store
        self.backend = SimulatorBackend(0.01, 0.05, 0.01, read_delay=60.0, send_delay=send_delay,
                                        not_on_whatsapp=frozenset({NOBODY}))
        self.sink, self.tmp_path = RecordingSink(), tmp_path
        self.registry = self.start_registry()
        for client_id, phone in (("alice", ALICE), ("bob", BOB)):
            self.registry.create(client_id, phone)
        wait_until(lambda: [s.state for s in self.registry.list()] == [READY, READY], timeout=10)
        self.client = create_app(Settings(api_key=KEY), self.registry, keys=ApiKeys(store)).test_client()

    def start_registry(self) -> ClientRegistry:
        return ClientRegistry(store=self.store, backend=self.backend, prompter=FakePrompter(),
                              data_dir=self.tmp_path / "d", pairing_timeout=30, events=self.sink,
                              send_options=SendOptions(wait=5), snapshot_interval=0.5)

    def post(self, path: str, body: dict, key: str = KEY, headers: dict | None = None):
        resp = self.client.post(path, json=body, headers={"x-api-key": key, **(headers or {})})
        assert "Traceback" not in resp.get_data(as_text=True)
        return resp

    def send(self, text: str, sender: str = "alice", to: str = f"+{BOB}", **extra) -> dict:
        resp = self.post("/api/messages/send", {"clientId": sender, "to": to, "text": text, **extra})
        assert resp.status_code in (200, 202), resp.get_json()
        return resp.get_json()

    def act(self, action: str, body: dict, **kw):
        return self.post(f"/api/messages/{action}", {"clientId": "alice", "chat": f"+{BOB}", **body}, **kw)

    def heard(self, client_id: str, type_: str = "message") -> list[dict]:
        return [d for c, t, d, _ in self.sink.published if c == client_id and t == type_]

    def heard_at_least(self, client_id: str, count: int, type_: str = "message") -> list[dict]:
        wait_until(lambda: len(self.heard(client_id, type_)) >= count, timeout=10)
        return self.heard(client_id, type_)

    def status(self, message_id: str) -> dict:
        return self.client.get(f"/api/messages/{message_id}", headers={"x-api-key": KEY}).get_json()

    def close(self) -> None:
        self.registry.stop_all()
        self.backend.close()


@pytest.fixture
def world(tmp_path, sqlite_store):
    made = World(tmp_path, sqlite_store)
    yield made
    made.close()


def test_a_reaction_by_our_id_reaches_bob_and_an_empty_emoji_takes_it_back(world):
    sent = world.send("Your order shipped")
    resp = world.act("react", {"messageId": sent["messageId"], "emoji": "👍"})
    assert resp.status_code == 200, resp.get_json()
    done = resp.get_json()
    assert done["success"] and done["to"] == BOB_JID and done["messageId"] != sent["messageId"]
    assert done["waMessageId"] == done["messageId"], "the simulator sends with the id wamulti gave the action"
    assert world.act("react", {"messageId": sent["messageId"], "emoji": ""}).status_code == 200
    first, second = world.heard_at_least("bob", 2, "message.reaction")
    assert (first["emoji"], first["targetId"], first["id"], first["fromJid"], first["targetFromMe"]) == (
        "👍", sent["waMessageId"], done["waMessageId"], ALICE_JID, False)
    assert (second["emoji"], second["removed"], second["targetId"]) == (None, True, sent["waMessageId"])
    status = world.status(done["messageId"])
    assert status["status"] in ("server", "delivered") and status["chat"] == BOB_JID
    assert status["waMessageId"] == done["waMessageId"]


def test_alice_reacts_to_bobs_message_by_whatsapps_id(world):
    bobs = world.send("Is it in stock?", sender="bob", to=f"+{ALICE}")
    [incoming] = world.heard_at_least("alice", 1)
    assert incoming["id"] == bobs["waMessageId"]
    resp = world.act("react", {"chat": incoming["chat"], "messageId": incoming["id"], "emoji": "❤️"})
    assert resp.status_code == 200, resp.get_json()
    [reaction] = world.heard_at_least("bob", 1, "message.reaction")
    assert (reaction["emoji"], reaction["targetId"], reaction["targetFromMe"]) == ("❤️", bobs["waMessageId"], True)
    assert reaction["fromJid"] == ALICE_JID


def test_an_edit_and_a_revoke_reach_bob(world):
    sent = world.send("Meeting at 10")
    edit = world.act("edit", {"messageId": sent["messageId"], "text": "Meeting at 11"})
    assert edit.status_code == 200, edit.get_json()
    revoke = world.act("revoke", {"messageId": sent["messageId"]})
    assert revoke.status_code == 200, revoke.get_json()
    [original] = world.heard_at_least("bob", 1)
    [edited] = world.heard_at_least("bob", 1, "message.edited")
    [revoked] = world.heard_at_least("bob", 1, "message.revoked")
    assert (original["text"], edited["text"], edited["targetId"]) == ("Meeting at 10", "Meeting at 11",
                                                                      sent["waMessageId"])
    assert (revoked["targetId"], revoked["fromJid"]) == (sent["waMessageId"], ALICE_JID)


def test_an_edit_accepted_right_after_its_send_goes_after_it(tmp_path, sqlite_store):
    world = World(tmp_path, sqlite_store, send_delay=0.3)
    try:
        sent = world.send("first draft", wait=False)
        assert sent["status"] in ("queued", "sending")
        edit = world.act("edit", {"messageId": sent["messageId"], "text": "final", "wait": False})
        assert edit.status_code == 202 and edit.get_json()["to"] == f"+{BOB}", "in the send's own line"
        [edited] = world.heard_at_least("bob", 1, "message.edited")
        [original] = world.heard("bob")
        assert (original["text"], edited["text"], edited["targetId"]) == ("first draft", "final", original["id"])
        send_row, edit_row = world.status(sent["messageId"]), world.status(edit.get_json()["messageId"])
        assert edit_row["status"] in ("server", "delivered") and edit_row["sentAt"] >= send_row["sentAt"]
    finally:
        world.close()


def test_bob_hears_alices_read_mark_by_ids_and_up_to_a_message(world):
    first = world.send("one", sender="bob", to=f"+{ALICE}")
    second = world.send("two", sender="bob", to=f"+{ALICE}")
    third = world.send("three", sender="bob", to=f"+{ALICE}")
    world.heard_at_least("alice", 3)
    resp = world.act("read", {"chat": BOB_JID, "messageIds": [first["waMessageId"], second["waMessageId"]]})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["waMessageId"] is None, "a read mark is a receipt, not a message"
    assert world.act("read", {"chat": f"+{BOB}", "upTo": third["waMessageId"]}).status_code == 200

    def read_acks():
        return {a["messageId"] for a in world.heard("bob", "message.ack") if a["status"] == "read"}
    wait_until(lambda: len(read_acks()) == 3, timeout=10)
    assert read_acks() == {first["messageId"], second["messageId"], third["messageId"]}


def test_an_action_on_a_failed_send_is_refused_and_nothing_is_queued(world):
    failed_id = world.post("/api/messages/send", {"clientId": "alice", "to": f"+{NOBODY}", "text": "hi",
                                                  "wait": False}).get_json()["messageId"]
    wait_until(lambda: world.status(failed_id)["status"] == "failed", timeout=10)
    for action, extra in (("react", {"emoji": "👍"}), ("edit", {"text": "x"}), ("revoke", {})):
        resp = world.act(action, {"chat": f"+{NOBODY}", "messageId": failed_id, **extra})
        assert resp.status_code == 409, resp.get_json()
        assert failed_id in resp.get_json()["message"] and "recipient_not_on_whatsapp" in resp.get_json()["message"]
    assert world.store.open_sends("alice") == []


def test_an_action_waiting_behind_a_send_that_fails_fails_naming_it(world):
    world.registry.stop_all()  # both rows wait in the store: the send fails only once the reaction is behind it
    since = utcnow() - timedelta(days=1)
    doomed, _ = world.store.enqueue_send(OutboundRow(new_message_id(), "alice", f"+{NOBODY}", "hi"), 10, since)
    react = ActionRequest("react", f"+{NOBODY}", doomed.message_id, emoji="👍")
    action, _ = world.store.enqueue_send(OutboundRow(new_message_id(), "alice", f"+{NOBODY}", react.body,
                                                     payload=action_payload(react)), 10, since)
    world.registry = world.start_registry()
    world.registry.restore_all(stagger=0.01)
    wait_until(lambda: world.status(action.message_id)["status"] == "failed", timeout=10)
    assert world.status(doomed.message_id)["reason"].startswith("recipient_not_on_whatsapp")
    assert world.status(action.message_id)["reason"] == (
        f"upstream_error: Message '{doomed.message_id}' was not sent (recipient_not_on_whatsapp), so it cannot be "
        "reacted to; nothing was sent.")
    wait_until(lambda: [a["status"] for a in world.heard("alice", "message.ack")
                        if a["messageId"] == action.message_id] == ["failed"], timeout=10)


def test_an_unknown_id_is_whatsapps_and_a_group_message_of_someone_else_needs_its_author(world):
    resp = world.act("react", {"chat": BOB_JID, "messageId": "3EB0AAAABBBBCCCCDDDD00", "emoji": "🎉"})
    assert resp.status_code == 200, resp.get_json()
    [reaction] = world.heard_at_least("bob", 1, "message.reaction")
    assert (reaction["emoji"], reaction["targetId"]) == ("🎉", "3EB0AAAABBBBCCCCDDDD00")
    group = "120363012345678901@g.us"
    for action, extra in (("react", {"emoji": "👍"}), ("read", {})):
        body = {"chat": group, "messageId": "WAID0001", "messageIds": ["WAID0001"], **extra}
        if action == "react":
            body.pop("messageIds")
        else:
            body.pop("messageId")
        resp = world.act(action, body)
        assert resp.status_code == 400 and "'participant'" in resp.get_json()["message"], resp.get_json()
    assert world.store.open_sends("alice") == []


def test_reading_our_own_message_and_editing_a_location_are_refused(world):
    sent = world.send("mine")
    resp = world.act("read", {"messageIds": [sent["messageId"]]})
    assert resp.status_code == 400 and "this client sent" in resp.get_json()["message"]
    place = world.post("/api/messages/send", {"clientId": "alice", "to": f"+{BOB}",
                                              "location": {"lat": 1.5, "lng": 2.5}}).get_json()
    resp = world.act("edit", {"messageId": place["messageId"], "text": "x"})
    assert resp.status_code == 409 and "not a text" in resp.get_json()["message"]


def test_an_edit_past_whatsapps_15_minutes_is_refused(world):
    message_id, sent_at = new_message_id(), utcnow() - timedelta(minutes=16)
    world.store.enqueue_send(OutboundRow(message_id, "alice", f"+{BOB}", "old"), 10, utcnow())
    world.store.set_send_state(message_id, SERVER, chat=BOB_JID, wa_message_id="3EB0OLD", sent_at=sent_at)
    resp = world.act("edit", {"messageId": message_id, "text": "too late"})
    assert resp.status_code == 409 and "15 minutes" in resp.get_json()["message"], resp.get_json()
    assert world.act("react", {"messageId": message_id, "emoji": "👍"}).status_code == 200, "a reaction has no window"


def test_the_chat_must_be_the_one_the_message_went_to(world):
    sent = world.send("hello")
    resp = world.act("react", {"chat": "4915133333333@s.whatsapp.net", "messageId": sent["messageId"],
                               "emoji": "👍"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_request"
    assert world.act("react", {"chat": BOB_JID, "messageId": sent["messageId"], "emoji": "👍"}).status_code == 200


def test_an_idempotency_key_answers_the_first_action_and_refuses_another_body(world):
    sent = world.send("hello")
    body = {"messageId": sent["messageId"], "emoji": "👍"}
    first = world.act("react", body, headers={"Idempotency-Key": "react-1"})
    again = world.act("react", body, headers={"Idempotency-Key": "react-1"})
    assert first.status_code == again.status_code == 200
    assert first.get_json()["messageId"] == again.get_json()["messageId"]
    other = world.act("react", {**body, "emoji": "👎"}, headers={"Idempotency-Key": "react-1"})
    assert other.status_code == 422 and other.get_json()["error"] == "idempotency_key_reused"
    world.heard_at_least("bob", 1, "message.reaction")
    assert [m["kind"] for m in world.heard("bob")] == ["text"]
    assert len(world.heard("bob", "message.reaction")) == 1, "one reaction went out"


def test_a_scoped_key_acts_for_its_own_clients_only(world):
    resp = world.post("/api/keys", {"clients": ["bob"]})
    bobs_key = resp.get_json()["key"]
    sent = world.send("alice's")
    resp = world.act("react", {"messageId": sent["messageId"], "emoji": "👍"}, key=bobs_key)
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
    # bob's key may name alice's id, but as bob's client it is only a WhatsApp id: nothing of alice's leaks
    resp = world.post("/api/messages/react", {"clientId": "bob", "chat": ALICE_JID, "messageId": sent["messageId"],
                                              "emoji": "👍"}, key=bobs_key)
    assert resp.status_code == 200 and resp.get_json()["to"] == ALICE_JID


def test_an_edit_queued_behind_its_send_goes_after_it_after_a_restart(world):
    world.registry.stop_all()
    since = utcnow() - timedelta(days=1)
    send, _ = world.store.enqueue_send(OutboundRow(new_message_id(), "alice", f"+{BOB}", "before"), 10, since)
    edit = ActionRequest("edit", f"+{BOB}", send.message_id, text="after restart")
    world.store.enqueue_send(OutboundRow(new_message_id(), "alice", f"+{BOB}", edit.body,
                                         payload=action_payload(edit)), 10, since)
    world.registry = world.start_registry()
    world.registry.restore_all(stagger=0.01)
    [edited] = world.heard_at_least("bob", 1, "message.edited")
    [original] = world.heard("bob")
    assert (original["text"], edited["text"], edited["targetId"]) == ("before", "after restart", send.message_id)
    wait_until(lambda: world.store.open_sends("alice") == [], timeout=10)


@pytest.mark.parametrize("action, body, field", [
    ("react", {"messageId": "3EB0X"}, "emoji"),
    ("react", {"messageId": "3EB0X", "emoji": "x" * 40}, "emoji"),
    ("react", {"messageId": "bad id!", "emoji": "👍"}, "messageId"),
    ("edit", {"messageId": "3EB0X", "text": "   "}, "text"),
    ("read", {"messageIds": ["A1"], "upTo": "A2"}, "messageIds"),
    ("read", {}, "messageIds"),
    ("read", {"messageIds": []}, "messageIds"),
    ("revoke", {"messageId": "3EB0X", "chat": "not a chat"}, "chat"),
    ("react", {"messageId": "3EB0X", "emoji": "👍", "wait": "yes"}, "wait"),
    ("react", {"messageId": "3EB0X", "emoji": "👍", "fromMe": 1}, "fromMe"),
    ("read", {"messageIds": ["A1"], "participant": "not a jid"}, "participant"),
])
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_queued(world, action, body, field):
    resp = world.act(action, body)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"] == "invalid_request" and field in resp.get_json()["message"]
    assert world.store.open_sends("alice") == []
