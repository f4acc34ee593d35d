"""Pairing in a child process, with the real library offline: the child's reports (real QR and
PairStatusEv protobufs through the client's own entry points, `--test-feed`), ending it from
every way a pairing is abandoned, a Go fatal error in it, and the hand-off of the paired file to
an in-process session. Dials go to a loopback listener that accepts and never answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import BUSY_BOUND, wait_until
from tests.silent_listener import SilentListener
from tests.offline import require_offline_proxy
from wamulti.backends import backend_api as bk
from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord
from wamulti.clients.states import CLOSED, CONNECTING
from wamulti.clients.worker import ClientWorker

require_offline_proxy()
pytest.importorskip("neonize")

from wamulti.backends.neonize.neonize_backend import NeonizeBackend, NeonizeSession  # noqa: E402
from wamulti.backends.neonize.pairing_children import PAIRING_WINDOW, ChildSpec, PairingChildSession  # noqa: E402

JID = "4915123456789@s.whatsapp.net"


@pytest.fixture
def silent():
    listener = SilentListener()
    yield listener
    listener.close()


def spec_for(silent: SilentListener, **kwargs) -> ChildSpec:
    """Test children: events may be fed, and they dial a listener that never answers."""
    return ChildSpec("INFO", ("--test-feed",), {"HTTPS_PROXY": silent.url, "HTTP_PROXY": silent.url}, **kwargs)


class Attempt:
    """A PairingChildSession connecting on its own thread, its events and how connect() ended."""

    def __init__(self, path: Path, spec: ChildSpec):
        self.events: list[bk.Event] = []
        self.changed = threading.Condition()
        self.session = PairingChildSession("kid", path, self._emit, spec)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._connect, daemon=True)
        self.thread.start()

    def _emit(self, event) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def _connect(self) -> None:
        try:
            self.session.connect()
        except BaseException as exc:
            self.error = exc

    def wait_event(self, kind, timeout=10.0):
        with self.changed:
            assert self.changed.wait_for(lambda: any(isinstance(e, kind) for e in self.events), timeout), self.events
            return next(e for e in self.events if isinstance(e, kind))

    def ended(self, timeout=10.0) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


def pid_gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_the_window_is_whatsmeows_qr_schedule():
    assert PAIRING_WINDOW == 60 + 5 * 20 == NeonizeBackend.pairing_window


def test_child_reports_a_real_qr_then_pair_success_and_exits_by_itself(tmp_path, silent):
    attempt = Attempt(tmp_path / "k.session", spec_for(silent))
    assert silent.wait_accepted(1), "the child dials through the inherited proxy"
    attempt.session.feed("qr", data="2@ref,noise,identity,adv")
    assert attempt.wait_event(bk.QrUpdated) == bk.QrUpdated("2@ref,noise,identity,adv")
    attempt.session.feed("pair_success", user="4915123456789", server="s.whatsapp.net")
    assert attempt.wait_event(bk.PairSuccess) == bk.PairSuccess(JID)
    assert attempt.ended() and attempt.error is None
    assert attempt.session.exit_code == 0 and pid_gone(attempt.session.pid), "it exited by itself and was reaped"
    assert (tmp_path / "k.session").exists(), "the library created the session file in the child"
    attempt.session.stop()


def test_child_reports_a_refused_pairing_as_pair_failed(tmp_path, silent):
    attempt = Attempt(tmp_path / "k.session", spec_for(silent))
    assert silent.wait_accepted(1)
    attempt.session.feed("pair_error", error="code expired")
    assert attempt.wait_event(bk.PairFailed) == bk.PairFailed("code expired")
    assert attempt.ended() and attempt.session.exit_code == 0


def _pipes() -> set[str]:
    """This process's descriptors that are pipes (other threads' sockets and files do not count)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                found.add(fd)
        except OSError:
            pass  # closed meanwhile
    return found


def test_stop_ends_a_child_stuck_in_a_dial_at_once_and_reaps_it(tmp_path, silent):
    before = _pipes()
    attempt = Attempt(tmp_path / "k.session", spec_for(silent))
    assert silent.wait_accepted(1)
    assert _pipes() - before, "the child's pipes are open while it runs"
    pid = attempt.session.pid
    started = time.monotonic()
    attempt.session.stop()
    assert time.monotonic() - started < 3 and pid_gone(pid)
    assert attempt.ended(3) and attempt.events == [] and attempt.error is None
    wait_until(lambda: not _pipes() - before, BUSY_BOUND)  # the child's pipes are closed (by the relay thread)
    with pytest.raises(bk.PairingError, match="stopped"):
        attempt.session.pair_phone("4915123456789")


def test_a_code_request_on_a_socket_that_hangs_fails_without_blocking_the_child(tmp_path, silent):
    attempt = Attempt(tmp_path / "k.session", spec_for(silent, code_answer_seconds=1.0))
    assert silent.wait_accepted(1)
    with pytest.raises(bk.PairingError, match="no answer"):
        attempt.session.pair_phone("4915123456789")  # whatsmeow waits for the dial
    attempt.session.feed("pair_error", error="still listening")  # the child's loop was not blocked
    assert attempt.wait_event(bk.PairFailed) == bk.PairFailed("still listening")
    attempt.session.stop()


def test_a_go_fatal_error_in_the_child_ends_only_this_attempt(tmp_path, silent):
    attempt = Attempt(tmp_path / "k.session", spec_for(silent))
    assert silent.wait_accepted(1)
    attempt.session.feed("go_fatal")  # get_me() on a client Go never registered: the process aborts
    failed = attempt.wait_event(bk.PairFailed)
    assert failed.reason.startswith("the pairing process ended unexpectedly (exit status")
    assert attempt.ended() and pid_gone(attempt.session.pid)
    attempt.session.stop()


def test_an_offline_dial_is_connect_failed_with_the_reason(tmp_path):
    attempt = Attempt(tmp_path / "k.session", ChildSpec("INFO"))  # this process's proxy: a closed port
    assert attempt.ended(20)
    assert isinstance(attempt.error, bk.ConnectFailed) and "127.0.0.1:9" in str(attempt.error)
    assert attempt.session.exit_code == 0


def test_the_child_exits_when_the_server_goes_away(tmp_path, silent):
    """stdin closes when the server dies (even by SIGKILL): the child must not outlive it."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "HTTPS_PROXY": silent.url, "HTTP_PROXY": silent.url}
    child = subprocess.Popen([sys.executable, "-m", "wamulti.backends.neonize.pairing_child",
                              str(tmp_path / "k.session"), "orphan", str(write_fd), "INFO"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, pass_fds=(write_fd,), env=env)
    os.close(write_fd)
    try:
        assert silent.wait_accepted(1)
        child.stdin.close()
        assert child.wait(10) == 0
    finally:
        child.kill()
        os.close(read_fd)


# ---- through a worker ------------------------------------------------------------------------------
class RecordingBackend(NeonizeBackend):
    """Test double: the real backend, noting each session it hands out and, for in-process ones,
    whether a pairing child was still running at that moment."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sessions: list = []
        self.children_alive_at_handoff: list[bool] = []

    def new_pairing_session(self, client_id, session_path, emit):
        self.sessions.append(super().new_pairing_session(client_id, session_path, emit))
        return self.sessions[-1]

    def new_session(self, client_id, session_path, emit):
        # a child counts as running until it was reaped: the handoff must come after both
        alive = [s.exit_code is None for s in self.sessions if isinstance(s, PairingChildSession) and s.pid]
        self.children_alive_at_handoff.append(any(alive))
        self.sessions.append(super().new_session(client_id, session_path, emit))
        return self.sessions[-1]


@pytest.fixture
def worker_parts(tmp_path, silent):
    settings = Settings(api_key="k" * 16, data_dir=tmp_path / "data", log_level="WARNING")
    store = open_store(settings)
    backend = RecordingBackend(settings, pairing_child=spec_for(silent))
    workers = []

    def make(pairing_timeout=30.0) -> ClientWorker:
        record = store.create_client(ClientRecord(f"w{len(workers)}", CONNECTING, phone="4915123456789"))
        workers.append(ClientWorker(record, backend=backend, store=store, prompter=None, data_dir=settings.data_dir,
                                    pairing_timeout=pairing_timeout, snapshot_interval=0.2))
        return workers[-1]

    yield make, backend, store
    for worker in workers:
        worker.stop()
        worker.join(10)
    backend.close()
    store.close()


def test_after_pair_success_the_paired_file_is_handed_to_an_in_process_session(worker_parts, silent):
    make, backend, store = worker_parts
    worker = make()
    worker.start(phone="4915123456789")
    assert silent.wait_accepted(1)
    child = backend.sessions[0]
    assert isinstance(child, PairingChildSession)
    child.feed("pair_success", user="4915123456789", server="s.whatsapp.net")
    wait_until(lambda: len(backend.sessions) >= 2, BUSY_BOUND)
    handed = backend.sessions[1]
    assert isinstance(handed, NeonizeSession) and backend.children_alive_at_handoff == [False]
    assert child.exit_code == 0 and pid_gone(child.pid)
    assert worker.status().jid == JID and store.load_snapshot("w0") is not None
    assert worker.session_path.exists()
    # the in-process session dials with this process's proxy (a closed port) and backs off
    assert worker.wait_for_state({CONNECTING}, 5)


@pytest.mark.parametrize("abandon", ["delete", "re-pair", "timeout"])
def test_every_way_of_abandoning_a_pairing_ends_its_child(worker_parts, silent, abandon):
    """Each way ends with the first child reaped: a reaped child has no /proc entry (a zombie still has)."""
    make, backend, store = worker_parts
    # only the timeout way needs the timeout to run out; on a busy machine a child takes long to start
    worker = make(pairing_timeout=2.0 if abandon == "timeout" else BUSY_BOUND)
    worker.start(phone="4915123456789")
    if abandon == "timeout":  # it may run out before the child dials: the child must end all the same
        wait_until(lambda: backend.sessions, BUSY_BOUND)
        assert worker.wait_for_state({CLOSED}, BUSY_BOUND) and worker.status().last_error == "pairing_timeout"
    else:
        assert silent.wait_accepted(1, BUSY_BOUND)
    first = backend.sessions[0]
    if abandon == "delete":
        worker.delete()
    elif abandon == "re-pair":
        worker.pair("4915987654321")
        assert silent.wait_accepted(2, BUSY_BOUND), "the new child dials once the first one was ended"
    if abandon != "re-pair":
        assert worker.join(BUSY_BOUND), "the run ends once it has stopped (and reaped) its child"
    assert first.pid is None or pid_gone(first.pid)
