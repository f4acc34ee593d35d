"""The pairing window: a code lives as long as the backend's QR window, counted from the session's
first QR (not from the request), within PAIRING_TIMEOUT; the client shows when it ends
(`pairingExpiresAt`), closes with `pairing_expired`, and POST .../pair issues a fresh code.

Worker tests use the FakeBackend test double with a window set; the end-to-end tests run the
server on the simulator, whose QR rotation and expiry follow whatsmeow's schedule scaled down.
"""

from __future__ import annotations

import io
import re
import time
from datetime import datetime, timezone

import pytest

from tests.conftest import BUSY_BOUND, wait_until
from tests.fake_backend import FakePrompter
from tests.server_process import ServerProcess
from wamulti.backends.backend_api import PairingError, QrUpdated
from wamulti.backends.simulator.sim_backend import QR_SHARES, SimulatorBackend
from wamulti.console import ConsolePrompter
from wamulti.errors import Conflict
from wamulti.clients.states import CLOSED, CONNECTING, PAIRING
from wamulti.clients.timers import Timer, Timers

PHONE = "4915123456789"
CODE = r"[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}"


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def seconds_until(moment: datetime) -> float:
    return (moment - datetime.now(timezone.utc)).total_seconds()


def open_window(worker, backend, generation=1):
    session = backend.wait_session(generation)
    session.emit(QrUpdated(f"2@qr-{generation}"))
    worker.wait_for_pairing_code(5)
    return session


def show_first_qr(reg, backend, generation, client_id="a"):
    """The registry's client gets its session's first QR, and with it a pairing code."""
    backend.wait_session(generation).emit(QrUpdated(f"2@qr-{generation}"))
    wait_until(lambda: reg.get(client_id).pairing_code is not None)


# ---- worker, over the FakeBackend test double ---------------------------------------------------
def test_the_window_counts_from_the_first_qr_not_from_the_request(make_worker, fake_backend):
    fake_backend.pairing_window = 0.8
    w = make_worker()
    w.start(phone=PHONE)
    session = fake_backend.wait_session(1)
    time.sleep(0.5)  # the dial takes a while: no window runs yet
    assert w.status().pairing_expires_at is None and w.state == CONNECTING
    session.emit(QrUpdated("2@first"))
    w.wait_for_pairing_code(5)
    status = w.status()
    assert status.state == PAIRING and status.pairing_code == "ABCD-EFGH"
    assert 0.6 < seconds_until(status.pairing_expires_at) <= 0.8
    session.emit(QrUpdated("2@rotated"))  # a rotation within the window moves nothing
    wait_until(lambda: w.qr() == "2@rotated")
    assert w.status().pairing_expires_at == status.pairing_expires_at
    assert w.wait_for_state({CLOSED}, 5)
    closed = w.status()
    assert (closed.last_error, closed.pairing_code, closed.pairing_expires_at) == ("pairing_expired", None, None)
    assert session.stopped.is_set() and w.join(5)
    assert session.calls.count(("pair_phone", PHONE)) == 1


def test_pairing_timeout_bounds_the_window_and_the_dial_before_it(make_worker, fake_backend):
    fake_backend.pairing_window = 60.0
    w = make_worker(pairing_timeout=0.6)
    w.start(phone=PHONE)
    open_window(w, fake_backend)
    assert 0.3 < seconds_until(w.status().pairing_expires_at) <= 0.6  # the earlier of the two ends
    assert w.wait_for_state({CLOSED}, 5) and w.status().last_error == "pairing_timeout"

    never = make_worker("bob", pairing_timeout=0.4)  # a dial that never opens a window
    never.start(phone=PHONE)
    assert never.wait_for_state({CLOSED}, 5) and never.status().last_error == "pairing_timeout"


def test_a_dropped_session_voids_its_code_and_the_next_one_opens_a_new_window(make_worker, fake_backend):
    fake_backend.pairing_window = 30.0
    # the attempt's PAIRING_TIMEOUT well past both windows: with the two equal, each window would end at
    # the attempt's one deadline and the two ends would differ only by clock jitter, either way
    w = make_worker(pairing_timeout=300.0)
    w.start(phone=PHONE)
    first = open_window(w, fake_backend)
    first_end = w.status().pairing_expires_at
    fake_backend.next_code = "WXYZ-2345"
    first.stopped.set()  # connect() returns: the login socket is gone, and its code with it
    assert w.wait_for_state({CONNECTING}, 5)
    assert (w.status().pairing_code, w.status().pairing_expires_at, w.qr()) == (None, None, None)
    second = fake_backend.wait_session(2, timeout=5)
    time.sleep(0.05)
    second.emit(QrUpdated("2@second"))
    assert w.wait_for_state({PAIRING}, 5)
    status = w.status()
    assert status.pairing_code == "WXYZ-2345" and status.pairing_expires_at > first_end
    assert ("pair_phone", PHONE) in second.calls


def test_registry_pair_without_phone_gives_an_expired_client_a_fresh_code(make_registry, fake_backend):
    fake_backend.pairing_window = 0.4
    reg = make_registry(console=False)
    reg.create("a", PHONE)
    fake_backend.wait_session(1).emit(QrUpdated("2@qr-1"))  # the window opens, and closes 0.4 s later
    wait_until(lambda: reg.get("a").state == CLOSED)
    assert reg.get("a").last_error == "pairing_expired"
    fake_backend.next_code = "NEWC-ODE1"
    fake_backend.pairing_window = 30.0

    def paired_again() -> bool:
        try:
            reg.pair("a", None)  # the stored number pairs again, console or not
            return True
        except Conflict:  # the expired run is still ending ("try again in a moment")
            return False

    wait_until(paired_again)
    show_first_qr(reg, fake_backend, generation=2)
    status = reg.get("a")
    assert (status.state, status.pairing_code, status.phone) == (PAIRING, "NEWC-ODE1", PHONE)
    assert status.pairing_expires_at is not None


def test_console_pairing_is_told_how_long_the_code_lives(make_worker, fake_backend):
    fake_backend.pairing_window = 160.0
    prompter = FakePrompter()
    w = make_worker(prompter=prompter, pairing_timeout=300)
    w.start()
    prompter.answer("alice", PHONE)
    open_window(w, fake_backend)
    assert prompter.codes == [("alice", "ABCD-EFGH")] and prompter.code_lifetimes == [160.0]


def test_the_console_prints_the_lifetime_of_a_code():
    out = io.StringIO()
    prompter = ConsolePrompter("off", 5, stdin=io.StringIO(), stdout=out)
    prompter.show_pairing_code("c0", "WXYZ-QRST", expires_in=160)
    prompter.show_pairing_code("c1", "ABCD-EFGH")
    text = out.getvalue()
    assert "[c0] Pairing code: WXYZ-QRST\n" in text
    assert re.search(r"\[c0\] The code works for 160 s \(until \d\d:\d\d:\d\d\)", text)
    assert "[c1] Pairing code: ABCD-EFGH\n[c1] On the phone" in text  # no lifetime known: no line


def test_timers_tell_the_seconds_left():
    now = [100.0]
    timers = Timers(clock=lambda: now[0])
    assert timers.seconds_left(Timer.CODE_WINDOW) is None
    timers.schedule(Timer.CODE_WINDOW, 5)
    now[0] = 103.0
    assert timers.seconds_left(Timer.CODE_WINDOW) == 2.0
    now[0] = 109.0
    assert timers.seconds_left(Timer.CODE_WINDOW) == 0.0


# ---- the simulator's window ------------------------------------------------------------------------
def test_simulator_rotates_six_qr_codes_then_goes_silent_and_refuses_codes(tmp_path):
    window = 0.8
    backend = SimulatorBackend(0, 0, 0, pairing_window=window)
    seen: list[tuple[float, object]] = []
    session = backend.new_session("s", tmp_path / "s.session", lambda e: seen.append((time.monotonic(), e)))
    import threading
    thread = threading.Thread(target=session.connect, daemon=True)
    thread.start()
    wait_until(lambda: len(seen) >= len(QR_SHARES), BUSY_BOUND)
    first_qr_at = seen[0][0]  # the window opened just before it
    time.sleep(max(0.0, first_qr_at + window - time.monotonic()))  # until the window has surely closed
    with pytest.raises(PairingError, match="closed"):
        session.pair_phone(PHONE)
    qrs = [at for at, e in seen if isinstance(e, QrUpdated)]
    assert len(qrs) == len(QR_SHARES) == 6 and len(seen) == 6  # then silence, like whatsmeow
    assert sum(QR_SHARES) == 1.0
    # each code is shown at least its share of the window (a busy machine may show it longer, never shorter)
    shown = [later - earlier for earlier, later in zip(qrs, qrs[1:])]
    assert all(seconds >= share * window - 0.01 for seconds, share in zip(shown, QR_SHARES)), shown
    assert thread.is_alive()  # connect() blocks until stop, as neonize's does
    session.stop()
    thread.join(2)
    assert not thread.is_alive() and not (tmp_path / "s.session").exists()
    backend.close()


# ---- end to end, over the API ---------------------------------------------------------------------
def test_api_shows_the_window_closes_pairing_expired_and_pair_issues_a_fresh_code(tmp_path):
    server = ServerProcess(tmp_path / "data", {"SIM_PAIRING_WINDOW": "1.5", "SIM_PAIR_DELAY": "30"}).start()
    try:
        first = server.request("POST", "/api/clients", {"clientId": "w", "phone": "+4915123456789"}).json
        assert first["state"] == "PAIRING" and re.fullmatch(CODE, first["pairingCode"])
        assert 1.0 < (parse(first["pairingExpiresAt"]) - parse(first["updatedAt"])).total_seconds() <= 1.6
        qr = server.request("GET", "/api/clients/w/qr?format=text").body
        server.wait_for(lambda: server.request("GET", "/api/clients/w/qr?format=text").body != qr, 3, "QR rotation")
        closed = server.wait_for(lambda: (lambda c: c if c["state"] == "CLOSED" else None)(
            server.request("GET", "/api/clients/w").json), 5, "expiry")
        assert (closed["lastError"], closed["pairingCode"], closed["pairingExpiresAt"]) == ("pairing_expired", None,
                                                                                           None)
        assert server.request("GET", "/api/clients/w/qr").status == 404
        again = server.request("POST", "/api/clients/w/pair")  # no body: the stored number, a fresh code
        assert again.status == 200 and again.json["state"] == "PAIRING" and again.json["phone"] == "4915123456789"
        assert re.fullmatch(CODE, again.json["pairingCode"]) and again.json["pairingCode"] != first["pairingCode"]
        assert parse(again.json["pairingExpiresAt"]) > parse(first["pairingExpiresAt"])
    finally:
        server.close()


def test_api_a_code_entered_within_the_window_links_and_clears_the_expiry(tmp_path):
    server = ServerProcess(tmp_path / "data", {"SIM_PAIRING_WINDOW": "5", "SIM_PAIR_DELAY": "0.3"}).start()
    try:
        created = server.request("POST", "/api/clients", {"clientId": "ok", "phone": "+4915123456789"}).json
        assert created["pairingExpiresAt"] is not None
        server.wait_all_ready(1, 10)
        ready = server.request("GET", "/api/clients/ok").json
        assert ready["pairingExpiresAt"] is None and ready["jid"] == "4915123456789@s.whatsapp.net"
    finally:
        server.close()
