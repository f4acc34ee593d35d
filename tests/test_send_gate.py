"""The send gate reads a client's state and pairing in one go: a client that changes between two
reads must never be refused as "READY, not READY" (the view's record is read once per request)."""

from __future__ import annotations

import threading
import time

from wamulti.errors import NotReady
from wamulti.clients.states import PAIRING, READY

JID = "4915000000001@s.whatsapp.net"


def test_a_client_flipping_between_unpaired_and_ready_is_refused_only_as_unpaired(make_worker):
    worker = make_worker("flip", jid=JID)
    view = worker._view  # the worker thread is the view's only writer; here the test plays that part
    stop = threading.Event()

    def flip():
        while not stop.is_set():
            view.update(state=PAIRING, jid=None)
            view.update(state=READY, jid=JID)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    refused, deadline = [], time.monotonic() + 0.5
    try:
        while time.monotonic() < deadline:
            try:
                worker.submit("4915000000002@s.whatsapp.net", "hi")
            except NotReady as exc:
                refused.append(str(exc))
    finally:
        stop.set()
        flipper.join(5)
    assert refused, "the gate did refuse while the client was unpaired"
    assert all("is PAIRING" in message for message in refused), {m for m in refused if "is PAIRING" not in m}
