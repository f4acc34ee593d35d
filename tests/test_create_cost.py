"""What a create costs beyond its own row: nothing written again, no send-queue thread, no queue read
(a new client has no sends); its first send still starts the queue and goes out."""

from __future__ import annotations

import threading

from tests.conftest import BUSY_BOUND, drive_to_ready, wait_until
from wamulti.backends.backend_api import PairSuccess, QrUpdated
from wamulti.clients.states import READY
from wamulti.sending.sender import Sent

JID = "4915112345678@s.whatsapp.net"


class CountingStore:
    """Test double: the real store, with the calls a create might make counted."""

    COUNTED = ("save_client", "save_clients", "open_sends", "fail_open_sends", "create_client")

    def __init__(self, store):
        self._store = store
        self.calls = {name: 0 for name in self.COUNTED}

    def __getattr__(self, name):
        target = getattr(self._store, name)
        if name not in self.COUNTED:
            return target

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return target(*args, **kwargs)
        return counted


def queue_threads(client_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"wa-{client_id}-queue" and t.is_alive()]


def test_a_create_writes_its_row_once_and_starts_no_queue(make_registry, sqlite_store, fake_backend):
    store = CountingStore(sqlite_store)
    registry = make_registry(console=False, store=store)
    registry.create("fresh", "+4915112345678")  # the fake backend shows no code: the create waits 0.2 s
    fake_backend.wait_session(1)
    assert registry.get("fresh").state == "CONNECTING"
    assert store.calls == {"save_client": 0, "save_clients": 0, "open_sends": 0, "fail_open_sends": 0,
                           "create_client": 1}, "the worker's first step found the row the create wrote"
    assert queue_threads("fresh") == [], "no send queue thread for a client with no sends"


def test_the_first_send_of_a_created_client_starts_its_queue_and_goes_out(make_registry, fake_backend):
    registry = make_registry(console=False)
    registry.create("fresh", "+4915112345678")
    pairing = fake_backend.wait_session(1)
    pairing.emit(QrUpdated("2@qr"))
    pairing.write_keys()
    pairing.emit(PairSuccess(JID))
    drive_to_ready(pairing)
    wait_until(lambda: registry.get("fresh").state == READY, BUSY_BOUND)
    assert queue_threads("fresh") == []
    sent = registry.send_text("fresh", "+4915199999999", "the first send of a new client")
    assert isinstance(sent, Sent) and sent.wa_message_id
    assert [c for c in pairing.calls if c[0] == "send_text"] == [("send_text", "4915199999999@s.whatsapp.net",
                                                                 "the first send of a new client")]
