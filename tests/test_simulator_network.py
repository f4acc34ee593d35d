"""The simulator's loopback network: sessions of one SimulatorBackend text each other, get delivered
and read receipts, and an offline recipient gets its messages when it connects again.

Sessions are paired and connected the way the worker does it (connect() on a thread of its own,
pair_phone() after the first QR); every wait is on a condition with a timeout.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from wamulti.backends import backend_api as bk
from wamulti.backends import group_api as ga
from wamulti.backends.simulator.sim_backend import SimulatorBackend
from wamulti.config import ConfigError, settings_from_env

READ_DELAY = 0.3
TIMEOUT = 5.0
A, B, C = "4915100000001", "4915100000002", "4915100000003"


class Device:
    """One client: a session on its own connection thread, and everything its sessions emitted."""

    def __init__(self, backend: SimulatorBackend, folder: Path, client_id: str, phone: str):
        self.backend, self.path, self.client_id, self.phone = backend, folder / f"{client_id}.session", client_id, phone
        self.jid = f"{phone}@s.whatsapp.net"
        self.events: list[bk.Event] = []
        self.changed = threading.Condition()
        self.session = self.thread = None
        self.start()
        self.wait_for(lambda e: isinstance(e, bk.QrUpdated))
        self.session.pair_phone(phone)
        self.wait_for(lambda e: isinstance(e, bk.SyncCompleted))

    def start(self) -> None:
        """A new session over the client's file, as the worker opens one per connection."""
        self.session = self.backend.new_session(self.client_id, self.path, self.emit)
        self.thread = threading.Thread(target=self.session.connect, daemon=True)
        self.thread.start()

    def emit(self, event: bk.Event) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait_for(self, match, count: int = 1) -> list[bk.Event]:
        with self.changed:
            found = self.changed.wait_for(lambda: len([e for e in self.events if match(e)]) >= count, TIMEOUT)
            assert found, f"{self.client_id} saw only {self.events}"
            return [e for e in self.events if match(e)]

    def receipts(self, message_id: str) -> list[str]:
        with self.changed:
            return [e.status for e in self.events if isinstance(e, bk.ReceiptReceived) and message_id in e.message_ids]

    def messages(self) -> list[bk.MessageReceived]:
        with self.changed:
            return [e for e in self.events if isinstance(e, bk.MessageReceived)]

    def stop(self) -> None:
        self.session.stop()
        self.thread.join(TIMEOUT)


def receipt(message_id: str, status: str):
    return lambda e: isinstance(e, bk.ReceiptReceived) and e.message_ids == (message_id,) and e.status == status


def message(message_id: str):
    return lambda e: isinstance(e, bk.MessageReceived) and e.message_id == message_id


@pytest.fixture
def network(tmp_path):
    backend = SimulatorBackend(0, 0, 0, read_delay=READ_DELAY)
    devices: list[Device] = []

    def join(client_id: str, phone: str, on: SimulatorBackend = backend) -> Device:
        devices.append(Device(on, tmp_path, client_id, phone))
        return devices[-1]

    yield join
    for device in devices:
        device.stop()
    backend.close()


def test_a_text_arrives_at_the_recipient_with_the_senders_number_and_the_id_the_sender_got(network):
    a, b = network("alice", A), network("bob", B)
    sent = a.session.send_text(b.jid, "hello 👋")
    got = b.wait_for(message(sent.message_id))[0]
    assert got == bk.MessageReceived(
        message_id=sent.message_id, chat=a.jid, sender_jid=a.jid, sender_phone=A, is_group=False,
        from_me=False, push_name="alice", kind="text", text="hello 👋", sent_at=sent.timestamp)
    assert got.sent_at.utcoffset() == timedelta(0)


def test_the_sender_gets_delivered_at_once_then_read_after_the_read_delay(network):
    a, b = network("alice", A), network("bob", B)
    started = time.monotonic()
    sent = a.session.send_text(b.jid, "hi")
    delivered = a.wait_for(receipt(sent.message_id, "delivered"))[0]
    read = a.wait_for(receipt(sent.message_id, "read"))[0]
    assert time.monotonic() - started >= READ_DELAY
    assert a.receipts(sent.message_id) == ["delivered", "read"]
    assert delivered.chat == read.chat == b.jid
    assert read.at - delivered.at == timedelta(seconds=READ_DELAY)
    assert b.receipts(sent.message_id) == []  # receipts go to the sender only


@pytest.mark.parametrize("form", ["{}@s.whatsapp.net", "{}", "+{}", "{}:7@s.whatsapp.net"])
def test_a_phone_number_in_any_jid_form_reaches_its_owner(network, form):
    a, b = network("alice", A), network("bob", B)
    sent = a.session.send_text(form.format(B), "hi")
    b.wait_for(message(sent.message_id))
    a.wait_for(receipt(sent.message_id, "delivered"))


@pytest.mark.parametrize("to", ["4915199999999@s.whatsapp.net", "123456@lid", A])
def test_a_send_that_reaches_no_other_simulator_client_gets_no_receipt(network, to):
    a, b = network("alice", A), network("bob", B)
    lost = a.session.send_text(to, "anyone?")
    # the network keeps order: once a later message's read receipt arrived, an earlier one's would have
    later = a.session.send_text(b.jid, "hi")
    a.wait_for(receipt(later.message_id, "read"))
    assert a.receipts(lost.message_id) == []
    assert [m.message_id for m in a.messages() + b.messages()] == [later.message_id]


def test_a_group_text_reaches_every_member_on_the_network_with_a_receipt_each_naming_the_group(network):
    a, b, c = network("alice", A), network("bob", B), network("carol", C)
    group = a.session.groups().create_group("Team", [b.jid, c.jid, "4915199999999@s.whatsapp.net"])
    for member in (b, c):
        member.wait_for(lambda e: isinstance(e, ga.GroupJoined) and e.group.group_id == group.group_id)
    sent = a.session.send_text(group.group_id, "hi all")
    for member in (b, c):
        [got] = member.wait_for(message(sent.message_id))
        assert (got.chat, got.is_group, got.sender_jid) == (group.group_id, True, a.jid)
    reads = a.wait_for(lambda e: isinstance(e, bk.ReceiptReceived) and e.status == "read", count=2)
    assert [r.chat for r in reads] == [group.group_id] * 2, "one read receipt per member on the network"
    assert a.messages() == [], "the sender gets no copy"
    assert a.backend.group_directory.metadata_calls[A] == 0, "a group send reads no group metadata"


def test_a_group_the_sender_is_not_in_refuses_the_text(network):
    a = network("alice", A)
    with pytest.raises(bk.SendFailed):
        a.session.send_text("120363025246125486@g.us", "anyone?")


def test_texts_arrive_in_the_order_they_were_sent(network):
    a, b = network("alice", A), network("bob", B)
    ids = [a.session.send_text(b.jid, f"n{i}").message_id for i in range(20)]
    b.wait_for(lambda e: isinstance(e, bk.MessageReceived), count=20)
    assert [m.message_id for m in b.messages()] == ids
    assert [m.text for m in b.messages()] == [f"n{i}" for i in range(20)]


def test_an_offline_recipient_gets_its_messages_when_it_connects_again_and_only_then_is_delivered(network):
    a, b, c = network("alice", A), network("bob", B), network("carol", C)
    b.stop()
    waiting = [a.session.send_text(b.jid, f"while away {i}").message_id for i in range(3)]
    probe = a.session.send_text(c.jid, "probe")  # sent after: its delivered receipt proves the others waited
    a.wait_for(receipt(probe.message_id, "delivered"))
    assert all(a.receipts(i) == [] for i in waiting)
    assert b.messages() == []

    stopped_at = len(b.events)
    b.start()  # a new session over the same file, as after a reconnect
    b.wait_for(lambda e: isinstance(e, bk.MessageReceived), count=3)
    assert [m.message_id for m in b.messages()] == waiting
    assert isinstance(b.events[stopped_at], bk.Connected)  # the messages come after Connected
    for message_id in waiting:
        a.wait_for(receipt(message_id, "read"))
        assert a.receipts(message_id) == ["delivered", "read"]


def test_a_read_receipt_due_while_the_sender_is_offline_reaches_its_next_session(network):
    slow = SimulatorBackend(0, 0, 0, read_delay=1.0)  # room to stop the sender before B "reads"
    try:
        a, b = network("alice", A, on=slow), network("bob", B, on=slow)
        sent = a.session.send_text(b.jid, "hi")
        a.wait_for(receipt(sent.message_id, "delivered"))
        a.stop()
        stopped_at = len(a.events)
        a.start()  # a new session over the same file, as after a reconnect
        a.wait_for(receipt(sent.message_id, "read"))
        assert isinstance(a.events[stopped_at], bk.Connected)  # the stopped session emitted nothing more
        assert a.receipts(sent.message_id) == ["delivered", "read"]
    finally:
        slow.close()


def test_a_logged_out_number_is_off_the_network(network):
    a, b, c = network("alice", A), network("bob", B), network("carol", C)
    b.session.logout()
    b.stop()
    lost = a.session.send_text(b.jid, "still there?")
    probe = a.session.send_text(c.jid, "probe")
    a.wait_for(receipt(probe.message_id, "read"))
    assert a.receipts(lost.message_id) == []


def test_sessions_of_two_backends_are_on_separate_networks(network):
    other = SimulatorBackend(0, 0, 0, read_delay=READ_DELAY)
    try:
        a, b = network("alice", A), network("bob", B, on=other)
        lost = a.session.send_text(b.jid, "across")
        probe_to = network("carol", C)
        probe = a.session.send_text(probe_to.jid, "probe")
        a.wait_for(receipt(probe.message_id, "read"))
        assert a.receipts(lost.message_id) == [] and b.messages() == []
    finally:
        other.close()


def test_after_close_no_read_receipt_is_emitted(network):
    backend = SimulatorBackend(0, 0, 0, read_delay=0.5)  # room to close before B "reads"
    a, b = network("alice", A, on=backend), network("bob", B, on=backend)
    sent = a.session.send_text(b.jid, "hi")
    a.wait_for(receipt(sent.message_id, "delivered"))
    backend.close()
    with a.changed:  # a negative: wait well past the read delay for a receipt that must not come
        read_arrived = a.changed.wait_for(lambda: "read" in a.receipts(sent.message_id), 1.0)
    assert not read_arrived


def test_sim_read_delay_is_a_validated_setting():
    key = {"API_KEY": "0123456789abcdef"}
    assert settings_from_env(key).sim_read_delay == 1.0
    assert settings_from_env({**key, "SIM_READ_DELAY": "0.25"}).sim_read_delay == 0.25
    for bad in ("-1", "soon", "3601"):
        with pytest.raises(ConfigError, match="SIM_READ_DELAY"):
            settings_from_env({**key, "SIM_READ_DELAY": bad})
    SimulatorBackend.from_settings(settings_from_env(key)).close()
