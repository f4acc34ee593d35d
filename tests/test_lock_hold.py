"""The Go lock is held only as long as Go needs it, on the real NeonizeBackend and library, offline.

- A start is not held up by a send that takes 10 s: in this process (dials fail at the loopback
  proxy). Only the send's network wait is stood in for (`SlowSendLibrary`); the lock, the sessions,
  the start (a real registration in Go and a real failing dial) are real.
- Other clients' sends are not held up by starts whose dials hang, nor by a start waiting for the
  exclusive side beside a real number lookup that waits ~60 s in Go (which does not hold up the
  start either): in a child process whose dials go to a loopback endpoint that accepts and never
  answers (Go reads its proxy once, at process start). A Go fatal error there fails the test
  instead of ending pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from tests.offline import require_offline_proxy
from tests.server_process import ROOT
from tests.silent_listener import SilentListener

require_offline_proxy()
pytest.importorskip("neonize")

from wamulti.backends import backend_api as bk  # noqa: E402
from wamulti.backends.neonize.neonize_backend import NeonizeBackend  # noqa: E402
from wamulti.backends.neonize.starts import ENTRY_MARGIN, REGISTER_HOLD  # noqa: E402
from wamulti.backends.neonize.gocalls import _enter_go, threads_in_go  # noqa: E402
from wamulti.seams.neonize_internals import go_library, replace_go_library  # noqa: E402
from wamulti.config import Settings  # noqa: E402

SLOW_SEND = 10.0
TO = "4915123456789@s.whatsapp.net"


class SlowSendLibrary:
    """Test double beneath the lock for neonize's Go library: SendMessage waits SLOW_SEND seconds
    in C, the way Go waits on the network (the thread leaves Python, as in a real call), then
    answers what Go answers for a sent message. Every other function is the real library's."""

    def __init__(self, real):
        self._real = real
        self.sending = threading.Event()

    def __getattr__(self, name):
        return getattr(self._real, name)

    def SendMessage(self, uuid, jid, jid_size, message, message_size):  # noqa: N802 (Go's name)
        import ctypes

        from neonize.proto.Neonize_pb2 import SendMessageReturnFunction, SendResponse

        self.sending.set()
        _enter_go(ctypes.CDLL(None).poll, (None, 0, int(SLOW_SEND * 1000)))
        return SendMessageReturnFunction(SendResponse=SendResponse(ID="3EB0SLOW", Timestamp=1700000000)
                                         ).SerializePartialToString()


class SlowSendBackend(NeonizeBackend):
    """The real backend, except that client "slow" gets SlowSendLibrary beneath its lock."""

    def new_client(self, path, uuid):
        client = super().new_client(path, uuid)
        if uuid.startswith("slow#"):
            self.slow = SlowSendLibrary(go_library(client))
            replace_go_library(client, self.slow)
        return client


def test_a_start_is_not_held_up_by_a_send_that_takes_ten_seconds(tmp_path):
    backend = SlowSendBackend(Settings(api_key="k" * 16, data_dir=tmp_path, log_level="WARNING"))
    slow = backend.new_session("slow", tmp_path / "slow.session", lambda e: None)
    with pytest.raises(bk.ConnectFailed):
        slow.connect()  # a real start: registered in Go, its dial refused; sends go to Go
    sent: list = []
    sender = threading.Thread(target=lambda: sent.append(slow.send_text(TO, "hi")), daemon=True)
    sender.start()
    assert backend.slow.sending.wait(5)
    assert wait_until(lambda: sender.ident in threads_in_go({sender.ident}), 5), "the send is waiting in C"
    other = backend.new_session("other", tmp_path / "other.session", lambda e: None)
    began = time.monotonic()
    with pytest.raises(bk.ConnectFailed, match="dial"):
        other.connect()  # exclusive while Go registers it: it must pass the send in flight
    took = time.monotonic() - began
    print(f"\nstart beside a {SLOW_SEND:.0f} s send: {took * 1000:.0f} ms")
    assert sender.is_alive(), "the send is still waiting on its network"
    assert took < 3.0, f"the start waited {took:.1f} s for the send"
    assert took >= ENTRY_MARGIN * 0.7, "it did wait for the send to be past its lookup"
    other.stop()
    sender.join(SLOW_SEND + 10)
    assert sent and sent[0].message_id == "3EB0SLOW", "the send itself completed as Go answered"
    slow.stop()
    backend.close()


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


# ---- a child whose dials hang ---------------------------------------------------------------------
CHILD = r"""
import json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
import logging; logging.basicConfig(level=logging.ERROR)
from pathlib import Path
from wamulti.backends.backend_api import BackendError
from wamulti.backends.neonize.neonize_backend import NeonizeBackend
from wamulti.config import Settings
data = Path(sys.argv[2])
backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=data, log_level="WARNING"))
TO = "4915123456789@s.whatsapp.net"

def start(name):
    session = backend.new_session(name, data / f"{name}.session", lambda e: None)
    threading.Thread(target=session.connect, daemon=True).start()
    return session

others = [start(f"o{i}") for i in range(3)]
time.sleep(5)  # their starts are over (registered, settled); their dials hang
sends, stop = [], threading.Event()
def send_loop(session):
    while not stop.is_set():
        began = time.monotonic()
        try:
            session.send_text(TO, "x")
        except BackendError:
            pass  # not logged in: Go answers at once
        sends.append((began, time.monotonic() - began))
        time.sleep(0.005)
for s in others:
    threading.Thread(target=send_loop, args=(s,), daemon=True).start()
time.sleep(1)
window_start = time.monotonic()
hanging = start("hanging")                # its dial hangs: exclusive until registered, then settles
time.sleep(0.05)
waiting = start("waiting")                # the next start waits for it to settle
time.sleep(3)
window_end = time.monotonic()
lookup = threading.Thread(target=lambda: others[0].lookup_phone("4915123456789"), daemon=True)
lookup.start()                            # a real lookup on a client whose dial hangs: ~60 s in Go
time.sleep(1)
began = time.monotonic()
late = start("late")                      # it waits for the lookup in flight: new sends wait for it
while (late._start is None or late._start.stage == "before") and time.monotonic() - began < 30:
    time.sleep(0.005)                     # until it holds the exclusive side
start_took = time.monotonic() - began
time.sleep(1.5)
stop.set()
print("RESULT " + json.dumps({
    "during_starts": [took for t, took in sends if window_start <= t <= window_end],
    "beside_lookup": [took for t, took in sends if began <= t <= began + start_took + 1.0],
    "lookup_alive": lookup.is_alive(), "start_beside_lookup": start_took}))
sys.stdout.flush()
os._exit(0)
"""


def make_session_files(data, names) -> None:
    """Session files with whatsmeow's tables, made here where dials fail at once: the child's
    starts then find existing files, like every in-process session (a linked device's file)."""
    backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=data, log_level="WARNING"))
    for name in names:
        session = backend.new_session(name, data / f"{name}.session", lambda e: None)
        with pytest.raises(bk.ConnectFailed):
            session.connect()
        session.stop()
    backend.close()


def test_sends_of_other_clients_are_not_held_up_by_hanging_starts_nor_by_a_start_waiting_for_a_slow_call(tmp_path):
    make_session_files(tmp_path, ["o0", "o1", "o2", "hanging", "waiting", "late"])
    silent = SilentListener()
    env = {**os.environ, "HTTPS_PROXY": silent.url, "HTTP_PROXY": silent.url}
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(tmp_path)], env=env,
                              capture_output=True, text=True, timeout=120)
        accepted = silent.accepted
    finally:
        silent.close()
    assert done.returncode == 0, f"child died ({done.returncode}):\n{done.stderr[-3000:]}"
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    bound = ENTRY_MARGIN + REGISTER_HOLD  # a start waits for calls in flight, then is exclusive until registered
    for window in ("during_starts", "beside_lookup"):
        took = sorted(result[window])
        print(f"\nsends of other clients, {window}: {len(took)}, p50 {took[len(took) // 2] * 1000:.1f} ms, "
              f"max {took[-1] * 1000:.0f} ms")
        assert len(took) >= 20, "sends kept completing while the starts were in progress"
        assert took[-1] < bound + 1.0, f"a send waited {took[-1]:.2f} s (bound {bound} s)"
    print(f"a start beside a ~60 s lookup took {result['start_beside_lookup'] * 1000:.0f} ms")
    assert accepted >= 5, "the dials reached the silent endpoint and hang there"
    assert result["lookup_alive"], "the real lookup was still waiting in Go"
    assert result["start_beside_lookup"] < 3.0, "a start waited for a lookup that waits ~60 s in Go"
