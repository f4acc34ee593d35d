"""What a client hears becomes events: messages, acks in order, state changes (worker side)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from tests.conftest import send_and_wait, wait_until
from tests.test_worker import pair_and_get_ready
from wamulti.backends.backend_api import Location, MessageReceived, ReceiptReceived, SentMessage
from wamulti.hearing.event_model import EventType
from wamulti.hearing.heard_events import Hearing, message_data

JID_A = "491511111111@s.whatsapp.net"
JID_B = "491522222222@s.whatsapp.net"
AT = datetime(2026, 11, 25, 10, 0, 0, 123000, tzinfo=timezone.utc)


class RecordingSink:
    """Test double of the event log: remembers what was published, with the publishing thread."""

    def __init__(self):
        self.published: list[tuple[str, str, dict, str]] = []
        self._lock = threading.Lock()

    def publish(self, client_id, type, data):
        with self._lock:
            self.published.append((client_id, str(type), data, threading.current_thread().name))

    def forget_client(self, client_id):
        pass

    created: list[str] = []

    def client_created(self, client_id):
        self.created = [*self.created, client_id]

    def of_type(self, type_: str) -> list[dict]:
        with self._lock:
            return [data for _, t, data, _ in self.published if t == type_]

    def acks(self) -> list[tuple[str, str]]:
        return [(data["id"], data["status"]) for data in self.of_type("message.ack")]


def text_message(message_id="M1", text="hi") -> MessageReceived:
    return MessageReceived(message_id=message_id, chat=JID_B, sender_jid=JID_B, sender_phone="491522222222",
                           is_group=False, from_me=False, push_name="Bea", kind="text", text=text, sent_at=AT)


def receipt(status, *ids) -> ReceiptReceived:
    return ReceiptReceived(message_ids=ids, chat=JID_B, status=status, at=AT)


# ---- Hearing on its own --------------------------------------------------------------------------
def test_a_receipt_that_overtakes_its_send_waits_for_the_server_ack():
    sink = RecordingSink()
    hearing = Hearing("alice", sink)
    hearing.send_started()
    assert hearing.heard(receipt("delivered", "M1"))
    assert sink.acks() == [], "delivered must not come before server"
    hearing.send_ended(JID_B, SentMessage("M1", AT))
    assert sink.acks() == [("M1", "server"), ("M1", "delivered")]
    hearing.heard(receipt("read", "M1"))
    assert sink.acks()[-1] == ("M1", "read")


def test_each_message_and_status_is_published_once_as_in_a_group_where_every_member_sends_receipts():
    sink = RecordingSink()
    hearing = Hearing("alice", sink)
    hearing.send_started()
    hearing.send_ended(JID_B, SentMessage("M1", AT))
    for _ in range(3):
        hearing.heard(receipt("delivered", "M1"))
    assert sink.acks() == [("M1", "server"), ("M1", "delivered")]


def test_receipts_for_older_messages_are_not_held_back_forever_by_sends_that_fail():
    sink = RecordingSink()
    now = [0.0]
    hearing = Hearing("alice", sink, clock=lambda: now[0])
    hearing.send_started()
    hearing.heard(receipt("read", "OLD"))  # a message sent before a restart: its server ack will never come
    hearing.send_started()
    hearing.send_ended(JID_B, None)  # one send failed; another is still under way
    assert sink.acks() == []
    now[0] = 31.0
    hearing.send_started()
    hearing.send_ended(JID_B, None)
    assert sink.acks() == [("OLD", "read")], "released once held for longer than HELD_RECEIPT_SECONDS"


def test_message_data_has_the_documented_fields():
    message = MessageReceived(message_id="M9", chat=JID_B, sender_jid="12345@lid", sender_phone="491522222222",
                              is_group=False, from_me=False, push_name=None, kind="location", text=None,
                              sent_at=AT, location=Location(52.5, 13.4, "Berlin"))
    data = message_data(message)
    assert data == {"id": "M9", "chat": JID_B, "from": "491522222222", "fromJid": "12345@lid", "isGroup": False,
                    "fromMe": False, "pushName": None, "kind": "location", "text": None, "quotedId": None,
                    "reaction": None, "location": {"lat": 52.5, "lng": 13.4, "name": "Berlin"}, "media": None,
                    "contact": None, "sentAt": "2026-11-25T10:00:00.123Z"}


# ---- through a worker --------------------------------------------------------------------------
def test_a_worker_publishes_every_state_change_and_what_its_session_hears(make_worker, fake_backend):
    sink = RecordingSink()
    worker = make_worker(events=sink)
    session = pair_and_get_ready(worker, fake_backend, JID_A)
    wait_until(lambda: sink.of_type(EventType.CLIENT_STATE)[-1]["state"] == "READY")
    states = [(d["previous"], d["state"]) for d in sink.of_type(EventType.CLIENT_STATE)]
    assert states[0] == ("CONNECTING", "PAIRING") and states[-2:] == [("CONNECTING", "SYNCING"), ("SYNCING", "READY")]
    emitter = threading.Thread(target=session.emit, args=(text_message(),), name="backend-thread")
    emitter.start()
    emitter.join(5)
    [(client_id, _, data, thread)] = [p for p in sink.published if p[1] == "message"]
    assert client_id == "alice" and data["text"] == "hi" and data["from"] == "491522222222"
    assert thread == "backend-thread", "stored on the backend's thread, before it returns to the library"


def test_a_send_publishes_its_server_ack_before_any_receipt(make_worker, fake_backend):
    sink = RecordingSink()
    worker = make_worker(events=sink)
    session = pair_and_get_ready(worker, fake_backend, JID_A)
    session.send_delay = 0.5
    result = {}
    sender = threading.Thread(target=lambda: result.update(sent=send_and_wait(worker, JID_B, "hello")))
    sender.start()
    wait_until(lambda: any(call[0] == "send_text" for call in session.calls))
    session.emit(receipt("delivered", "FAKE-ID-NOT-YET-KNOWN"))
    sender.join(5)
    message_id = result["sent"].wa_message_id  # receipts carry WhatsApp's id
    session.emit(receipt("delivered", message_id))
    acks = sink.acks()
    assert acks.index((message_id, "server")) < acks.index((message_id, "delivered"))
    assert ("FAKE-ID-NOT-YET-KNOWN", "delivered") in acks, "held only until no send was under way"


def test_a_failed_send_publishes_no_ack(make_worker, fake_backend):
    from wamulti.backends.backend_api import SendFailed
    from wamulti.errors import Upstream

    sink = RecordingSink()
    worker = make_worker(events=sink)
    session = pair_and_get_ready(worker, fake_backend, JID_A)
    wait_until(lambda: sink.of_type(EventType.CLIENT_STATE)[-1]["state"] == "READY")
    session.send_error = SendFailed("refused")
    states_before = len(sink.of_type("client.state"))
    try:
        send_and_wait(worker, JID_B, "x")
    except Upstream:
        pass
    else:
        raise AssertionError("the send should have failed")
    assert sink.acks() == []
    assert len(sink.of_type("client.state")) == states_before, "a failed send changes no state"


def test_a_deleted_client_publishes_nothing_more_and_the_registry_forgets_its_events(make_registry, fake_backend):
    class ForgettingSink(RecordingSink):
        """Test double: also remembers which clients it was told to forget."""

        forgotten: list[str] = []

        def forget_client(self, client_id):
            self.forgotten.append(client_id)

    sink = ForgettingSink()
    registry = make_registry(events=sink)
    registry.create("alice", "4915100000001")
    session = fake_backend.wait_session(1)
    registry.delete("alice")
    before = len(sink.published)
    session.emit(text_message())  # a late message from the session being stopped
    assert len(sink.published) == before and sink.forgotten == ["alice"]


def test_a_created_client_is_announced_to_the_sink_so_its_first_events_look_up_no_webhook(make_registry, fake_backend):
    sink = RecordingSink()
    registry = make_registry(events=sink)
    registry.create("alice", "4915100000001")
    assert sink.created == ["alice"]
