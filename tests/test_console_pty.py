"""Console pairing end to end: `python wsgi.py` (simulator) in a real pseudo-terminal, driven over HTTP."""

from __future__ import annotations

import re
import struct
import sys
import threading
import time

import pexpect
import pytest

from tests.server_process import ROOT, ServerProcess
from wamulti.clients.qr_codes import qr_png

CODE = r"[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}"
PROMPT = r"\[([\w.-]+)\] Enter the phone number to pair \(with country code\): "


class TerminalServer(ServerProcess):
    """The server with a pseudo-terminal as its stdin/stdout (what a person at the console sees)."""

    def start(self, timeout: float = 30.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.term = pexpect.spawn(sys.executable, ["wsgi.py"], cwd=str(ROOT), env=self.env, encoding="utf-8",
                                  timeout=15, dimensions=(50, 250))
        self.wait_for(self._answers, timeout, "server up")
        return self

    def _answers(self) -> bool:
        assert self.term.isalive(), "server exited"
        try:
            return self.request("GET", "/healthz", key=None, timeout=2).status == 200
        except OSError:
            return False

    def close(self) -> None:
        if self.term.isalive():
            self.term.kill(15)
            self.term.expect(pexpect.EOF, timeout=15)

    def client(self, cid: str) -> dict:
        return self.request("GET", f"/api/clients/{cid}").json

    def wait_state(self, cid: str, state: str, timeout: float = 15.0) -> dict:
        return self.wait_for(lambda: (lambda c: c if c["state"] == state else None)(self.client(cid)), timeout,
                             f"{cid} {state}")


@pytest.fixture
def terminal(tmp_path):
    started = []

    def start(**env) -> TerminalServer:
        server = TerminalServer(tmp_path / f"data{len(started)}", {"PAIRING_CONSOLE": "auto", "LOG_LEVEL": "WARNING",
                                                                   "SIM_PAIR_DELAY": "0.5", **env}).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def post(server, body):
    return server.request("POST", "/api/clients", body)


def test_typed_number_gets_a_pairing_code_on_the_console_and_the_client_gets_ready(terminal):
    server = terminal()
    started = time.monotonic()
    resp = post(server, {"clientId": "work-phone"})
    assert resp.status == 201 and time.monotonic() - started < 2, "the request must not wait for the console"
    server.term.expect(PROMPT)
    assert server.term.match.group(1) == "work-phone"
    server.term.sendline("+49 151 2345678")
    server.term.expect(rf"\[work-phone\] Pairing code: ({CODE})")
    code = server.term.match.group(1)
    server.term.expect("Link with phone number instead")
    client = server.client("work-phone")
    assert client["phone"] == "491512345678"
    assert client["state"] == "READY" or client["pairingCode"] == code
    server.wait_state("work-phone", "READY")
    server.term.kill(15)
    server.term.expect(pexpect.EOF, timeout=10)
    server.term.close()
    assert server.term.exitstatus == 0


def test_three_prompts_one_after_another_each_with_its_own_number(terminal):
    server = terminal(SIM_PAIR_DELAY="1")
    threads = [threading.Thread(target=post, args=(server, {"clientId": cid})) for cid in ("a1", "a2", "a3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    numbers = {"+44 7700 900001": "447700900001", "+44 7700 900002": "447700900002", "+44 7700 900003": "447700900003"}
    typed = {}
    for typed_number in numbers:
        server.term.expect(PROMPT)
        cid = server.term.match.group(1)
        # while this prompt waits, no other client's prompt appears (this one may be shown again
        # below a message printed for another client)
        while server.term.expect([PROMPT, pexpect.TIMEOUT], timeout=0.5) == 0:
            assert server.term.match.group(1) == cid, "two prompts at once"
        server.term.sendline(typed_number)
        typed[cid] = numbers[typed_number]
    assert sorted(typed) == ["a1", "a2", "a3"]
    for cid, digits in typed.items():
        assert server.wait_state(cid, "READY")["phone"] == digits


def test_invalid_input_re_asks_then_gives_up_and_eof_closes(terminal):
    server = terminal()
    post(server, {"clientId": "bad"})
    for attempt in range(3):
        server.term.expect(PROMPT)
        server.term.sendline("hello")
        if attempt < 2:
            server.term.expect(r"Try again")
    assert server.wait_state("bad", "CLOSED")["lastError"] == "no_phone_number"
    post(server, {"clientId": "eof"})
    server.term.expect(PROMPT)
    server.term.sendeof()
    assert server.wait_state("eof", "CLOSED")["lastError"] == "no_phone_number"
    post(server, {"clientId": "after-eof"})
    assert server.wait_state("after-eof", "CLOSED", timeout=5)["lastError"] == "no_phone_number"


def test_console_timeout_closes_the_client(terminal):
    server = terminal(PAIRING_TIMEOUT="2")
    post(server, {"clientId": "slow"})
    server.term.expect(PROMPT)
    assert server.wait_state("slow", "CLOSED", timeout=4)["lastError"] == "no_phone_number"


@pytest.mark.parametrize("console", ["auto", "off"])
def test_without_a_terminal_phone_is_required(tmp_path, console):
    server = ServerProcess(tmp_path / "data", {"PAIRING_CONSOLE": console}).start()  # stdin is /dev/null
    try:
        resp = post(server, {"clientId": "x"})
        assert resp.status == 400 and resp.json["error"] == "invalid_request" and "phone" in resp.json["message"]
        assert server.clients() == []
    finally:
        server.close()


def test_pairing_timeout_then_repair_with_a_new_code(tmp_path):
    server = ServerProcess(tmp_path / "data", {"PAIRING_TIMEOUT": "1", "SIM_PAIR_DELAY": "30"}).start()
    try:
        first = post(server, {"clientId": "t", "phone": "+4915123456789"}).json
        assert re.fullmatch(CODE, first["pairingCode"])
        server.wait_for(lambda: server.request("GET", "/api/clients/t").json["lastError"] == "pairing_timeout", 5,
                        "pairing_timeout")
        again = server.request("POST", "/api/clients/t/pair", {"phone": "+4915123456789"})
        assert again.status == 200 and again.json["state"] == "PAIRING"
        assert re.fullmatch(CODE, again.json["pairingCode"]) and again.json["pairingCode"] != first["pairingCode"]
    finally:
        server.close()


def test_qr_png_matches_its_text_and_disappears_when_ready(tmp_path):
    server = ServerProcess(tmp_path / "data", {"SIM_PAIR_DELAY": "30"}).start()
    try:
        assert post(server, {"clientId": "q", "phone": "+4915123456789"}).status == 201
        png = server.request("GET", "/api/clients/q/qr")
        text = server.request("GET", "/api/clients/q/qr?format=text")
        assert png.status == 200 and png.headers["content-type"] == "image/png"
        assert png.body[:8] == b"\x89PNG\r\n\x1a\n" and png.body[12:16] == b"IHDR"
        width, height = struct.unpack(">II", png.body[16:24])
        assert width == height and width > 100
        assert text.status == 200 and text.headers["content-type"].startswith("text/plain")
        qr = text.body.decode()
        if png.body != qr_png(qr):  # the QR may have rotated between the two requests
            qr = server.request("GET", "/api/clients/q/qr?format=text").body.decode()
            png = server.request("GET", "/api/clients/q/qr")
        assert qr.startswith("2@") and png.body == qr_png(qr)
        assert server.request("GET", "/api/clients/nope/qr").status == 404
    finally:
        server.close()
    ready = ServerProcess(tmp_path / "ready", {"SIM_PAIR_DELAY": "0.2"}).start()
    try:
        assert post(ready, {"clientId": "r", "phone": "+4915123456789"}).status == 201
        ready.wait_all_ready(1)
        gone = ready.request("GET", "/api/clients/r/qr")
        assert gone.status == 404 and gone.json["error"] == "not_found"
    finally:
        ready.close()


