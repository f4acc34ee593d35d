"""Console pairing prompts, driven through a real pseudo-terminal (pexpect + tests/console_harness.py),
plus in-process checks of the ConsolePrompter contract and of the QR renderings."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pexpect
import pexpect.popen_spawn
import pytest
import segno

from wamulti.console import LINK_STEPS, NO_PHONE, ConsolePrompter
from wamulti.clients.qr_codes import PNG_BORDER, TEXT_BORDER, qr_png, qr_symbol, qr_text

HARNESS = str(Path(__file__).with_name("console_harness.py"))
ROOT = str(Path(__file__).resolve().parent.parent)
PROMPT_TEXT = "Enter the phone number to pair (with country code): "
RESULT = re.compile(r"RESULT (\S+) (\S+) (\S+)")
QUIET = 0.5  # how long "no other prompt appears" is watched for


def prompt_re(ids) -> str:
    """A regex matching the prompt of any of ids (group 1: the id)."""
    return r"\[(" + "|".join(re.escape(i) for i in ids) + r")\] " + re.escape(PROMPT_TEXT)


class Term:
    """The harness on a real pseudo-terminal; everything it printed is kept in .out."""

    def __init__(self, *args, command=None, timeout=10):
        self.log = io.StringIO()
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        if command is None:
            self.child = pexpect.spawn(sys.executable, [HARNESS, *args], encoding="utf-8", timeout=timeout,
                                       env=env, cwd=ROOT, dimensions=(50, 200))
        else:
            self.child = pexpect.spawn(command[0], command[1:], encoding="utf-8", timeout=timeout, env=env,
                                       cwd=ROOT, dimensions=(50, 200))
        self.child.logfile_read = self.log

    @property
    def out(self) -> str:
        return self.log.getvalue()

    def next_prompt(self, ids, timeout=10) -> str:
        self.child.expect(prompt_re(ids), timeout=timeout)
        return self.child.match.group(1)

    def assert_no_prompt(self, ids, seconds=QUIET) -> None:
        """No prompt naming any of ids appears within seconds."""
        if not ids:
            return
        index = self.child.expect([prompt_re(ids), pexpect.TIMEOUT], timeout=seconds)
        assert index == 1, f"a second prompt appeared while one was waiting:\n{self.out}"

    def finish(self, timeout=10) -> dict[str, list[tuple[str, str]]]:
        """Wait for DONE and exit; every RESULT line per client id."""
        self.child.expect("DONE", timeout=timeout)
        self.child.expect(pexpect.EOF, timeout=5)
        self.child.close()
        results: dict[str, list[tuple[str, str]]] = {}
        for cid, digits, reason in RESULT.findall(self.out):
            results.setdefault(cid, []).append((digits, reason))
        return results

    def close(self):
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def term():
    terms = []

    def start(*args, **kwargs) -> Term:
        t = Term(*args, **kwargs)
        terms.append(t)
        return t

    yield start
    for t in terms:
        t.close()


# ---- through a real pseudo-terminal --------------------------------------------------------------

def test_the_prompt_names_the_client_and_the_typed_number_answers_it(term):
    t = term("--code", "work-phone")
    assert t.next_prompt(["work-phone"]) == "work-phone"
    t.child.sendline("+49 151 2345678")
    t.child.expect(re.escape("[work-phone] Pairing code: TEST-WORK"))
    t.child.expect(re.escape(f"[work-phone] {LINK_STEPS}"))
    assert t.finish() == {"work-phone": [("491512345678", "None")]}
    assert "ENABLED True" in t.out
    # the request itself returned at once
    assert all(float(s) < 0.1 for s in re.findall(r"QUEUED \S+ (\S+)", t.out))


def test_three_requests_get_three_prompts_one_after_another(term):
    numbers = {"work-phone": "+49 151 2345678", "shop": "+1 (415) 555-0100", "home": "+44 7700 900123"}
    t = term("--code", *numbers)
    asked: list[str] = []
    for _ in numbers:
        remaining = [i for i in numbers if i not in asked]
        cid = t.next_prompt(remaining)
        asked.append(cid)
        # while this prompt waits, no prompt for anybody else appears (re-prints of this one may)
        t.assert_no_prompt([i for i in remaining if i != cid])
        t.child.sendline(numbers[cid])
    results = t.finish()
    assert sorted(asked) == sorted(numbers)
    expected = {cid: [(re.sub(r"\D", "", n), "None")] for cid, n in numbers.items()}
    assert results == expected, t.out
    for cid in numbers:
        assert t.out.count(f"[{cid}] Pairing code: TEST-") == 1
    # prompts appeared in the order they were answered: each one after the previous answer's echo
    positions = [t.out.index(f"[{cid}] {PROMPT_TEXT}") for cid in asked]
    echoes = [t.out.index(numbers[cid], positions[n]) for n, cid in enumerate(asked)]
    assert positions[0] < echoes[0] < positions[1] < echoes[1] < positions[2] < echoes[2]


def test_invalid_input_is_asked_again_and_three_bad_tries_give_up(term):
    t = term("solo")
    t.next_prompt(["solo"])
    t.child.sendline("call me maybe")
    t.child.expect(r"\[solo\] The number .*'c' is not allowed\)\. Try again \(2 tries left\)\.")
    t.next_prompt(["solo"])
    t.child.sendline("0151 2345678")
    t.child.expect(r"\[solo\] The number must start with the country code, not 0 .*Try again \(1 try left\)\.")
    t.next_prompt(["solo"])
    t.child.sendline("+49 12")
    t.child.expect(r"\[solo\] The number must have 7 to 15 digits .*\(got 4\)\. No valid number after 3 tries")
    assert t.finish() == {"solo": [("None", NO_PHONE)]}


def test_valid_number_after_a_bad_one_counts(term):
    t = term("solo")
    t.next_prompt(["solo"])
    t.child.sendline("12")
    t.child.expect(re.escape("Try again (2 tries left)."))
    t.next_prompt(["solo"])
    t.child.sendline("+49 (151) 234-5678")
    assert t.finish() == {"solo": [("491512345678", "None")]}


def test_eof_answers_the_active_and_all_later_prompts(term):
    ids = ["one", "two", "three"]
    t = term("--timeout", "30", *ids)
    first = t.next_prompt(ids)
    t.child.sendline("+49 151 1111111")
    second = t.next_prompt([i for i in ids if i != first])
    began = time.monotonic()
    t.child.sendeof()
    t.child.expect(re.escape(f"[{second}] stdin is closed: pairing stopped"))
    results = t.finish()
    assert time.monotonic() - began < 5  # not after the 30 s timeout
    third = next(i for i in ids if i not in (first, second))
    assert results == {first: [("491511111111", "None")], second: [("None", NO_PHONE)],
                       third: [("None", NO_PHONE)]}
    assert f"[{third}] No console input (stdin is closed)" in t.out
    assert f"[{third}] {PROMPT_TEXT}" not in t.out  # never asked


def test_timeout_counts_from_when_each_prompt_appears(term):
    timeout = 1.5
    t = term("--timeout", str(timeout), "slow1", "slow2")
    first = t.next_prompt(["slow1", "slow2"])
    shown = time.monotonic()
    t.child.expect(re.escape(f"[{first}] no answer within 1.5s: pairing stopped"), timeout=timeout + 3)
    waited = time.monotonic() - shown
    assert timeout - 0.2 <= waited <= timeout + 1, waited
    second = t.next_prompt(["slow1", "slow2"])
    assert second != first
    shown = time.monotonic()
    t.child.expect(re.escape(f"RESULT {second} None {NO_PHONE}"), timeout=timeout + 3)
    waited = time.monotonic() - shown
    # the queued prompt got its own full timeout, not what was left of one counted from queueing
    assert timeout - 0.2 <= waited <= timeout + 1, waited
    assert f"[{first}] no answer within 1.5s: pairing stopped" in t.out
    assert t.finish() == {first: [("None", NO_PHONE)], second: [("None", NO_PHONE)]}


def test_cancel_ends_the_active_prompt_and_drops_a_queued_one(term, tmp_path):
    ids = ["keep", "gone1", "gone2"]
    control = tmp_path / "cancel"
    t = term("--control", str(control), "--timeout", "30", *ids)
    active = t.next_prompt(ids)
    others = [i for i in ids if i != active]
    if active == "keep":
        cancel_active, cancel_queued, keep = False, others[0], None
        cancelled = [others[0]]
    else:
        cancel_active, cancel_queued, keep = True, next(i for i in others if i != "keep"), "keep"
        cancelled = [cancel_queued, active]
    control.write_text("\n".join(cancelled))  # the queued one first: it must never be shown
    t.child.kill(signal.SIGUSR1)
    if cancel_active:
        t.child.expect(re.escape(f"[{active}] pairing cancelled"), timeout=2)
        assert t.next_prompt([keep]) == keep
    t.child.sendline("+49 151 2345678")
    if not cancel_active:
        remaining = [i for i in others if i != cancel_queued][0]
        assert t.next_prompt([remaining]) == remaining
        t.child.sendline("+49 151 7654321")
    results = t.finish()
    for cid in cancelled:
        assert cid not in results, t.out  # on_answer never called for a cancelled ticket
        assert f"CANCELLED {cid}" in t.out
    assert f"[{cancel_queued}] {PROMPT_TEXT}" not in t.out
    assert results["keep"] == [("491512345678", "None")]


def test_cancel_ends_the_active_prompt_at_once_not_at_its_timeout(term, tmp_path):
    control = tmp_path / "cancel"
    control.write_text("victim")
    t = term("--control", str(control), "--timeout", "30", "victim")
    t.next_prompt(["victim"])
    began = time.monotonic()
    t.child.kill(signal.SIGUSR1)
    t.child.expect(re.escape("[victim] pairing cancelled"), timeout=2)
    assert time.monotonic() - began < 1
    assert t.finish() == {}


def test_mode_off_on_a_terminal_is_disabled(term):
    t = term("--mode", "off", "x1")
    assert t.finish() == {"x1": [("None", NO_PHONE)]}
    assert "ENABLED False" in t.out and PROMPT_TEXT not in t.out


@pytest.mark.parametrize("stdin", ["devnull", "pipe"])
def test_mode_auto_without_a_terminal_is_disabled(stdin):
    began = time.monotonic()
    feed = {"input": "+49 151 2345678\n"} if stdin == "pipe" else {"stdin": subprocess.DEVNULL}
    proc = subprocess.run([sys.executable, HARNESS, "--mode", "auto", "a1", "a2"], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=10, **feed)
    out = proc.stdout
    assert proc.returncode == 0
    assert "ENABLED False" in out and PROMPT_TEXT not in out
    assert sorted(RESULT.findall(out)) == [("a1", "None", NO_PHONE), ("a2", "None", NO_PHONE)]
    assert time.monotonic() - began < 5


def test_mode_on_reads_a_pipe():
    p = pexpect.popen_spawn.PopenSpawn([sys.executable, HARNESS, "--mode", "on", "piped"], cwd=ROOT,
                                       env=dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1"),
                                       encoding="utf-8", timeout=10)
    p.expect("ENABLED True")
    p.expect(prompt_re(["piped"]))
    p.sendline("+49 151 2345678")
    p.expect(RESULT.pattern)
    assert p.match.group(1, 2, 3) == ("piped", "491512345678", "None")
    p.expect("DONE")
    p.expect(pexpect.EOF)


def test_mode_on_with_stdin_at_eof_answers_at_once():
    proc = subprocess.run([sys.executable, HARNESS, "--mode", "on", "--timeout", "30", "n1", "n2"], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=10)
    assert "ENABLED True" in proc.stdout
    assert sorted(RESULT.findall(proc.stdout)) == [("n1", "None", NO_PHONE), ("n2", "None", NO_PHONE)]


def test_background_job_does_not_read_the_terminal_until_brought_to_the_foreground(term):
    """`wsgi.py &` in a shell with job control: reading the terminal would stop the whole process
    (SIGTTIN, "Stopped (tty input)"); the prompt waits instead, and works once the job is in the
    foreground."""
    script = f"set -m; '{sys.executable}' '{HARNESS}' --timeout 20 bg & sleep 1.5; fg %1 >/dev/null"
    t = term(command=["bash", "-c", script])
    t.next_prompt(["bg"])
    t.child.expect(re.escape("[bg] The server runs in the background"), timeout=3)
    t.next_prompt(["bg"])  # shown again below the hint
    time.sleep(2)  # `fg` has happened by now
    t.child.sendline("+49 151 2345678")
    assert t.finish() == {"bg": [("491512345678", "None")]}


def test_background_job_is_not_stopped_by_typed_input(term):
    script = f"set -m; '{sys.executable}' '{HARNESS}' --timeout 1.5 bg & wait; jobs -l; echo SHELL-END"
    t = term(command=["bash", "-c", script])
    t.next_prompt(["bg"])
    t.child.sendline("+49 151 2345678")  # with nobody else reading, a read() here would stop the job
    shown = time.monotonic()
    t.child.expect(re.escape(f"RESULT bg None {NO_PHONE}"), timeout=4)
    assert time.monotonic() - shown < 2.5
    t.child.expect("SHELL-END")
    assert "Stopped" not in t.out


# ---- in process (a pipe as stdin) -----------------------------------------------------------------

class Pipe:
    def __init__(self):
        r, w = os.pipe()
        self.stdin = os.fdopen(r, "rb", buffering=0)
        self.w = w

    def type(self, text: str) -> None:
        os.write(self.w, text.encode())

    def close(self):
        if self.w >= 0:
            os.close(self.w)
            self.w = -1


class Out(io.StringIO):
    """A console stream whose text can be awaited."""

    def __init__(self):
        super().__init__()
        self.cond = threading.Condition()

    def write(self, s):
        with self.cond:
            n = super().write(s)
            self.cond.notify_all()
            return n

    def wait_for(self, text: str, timeout=5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: text in self.getvalue(), timeout), self.getvalue()


class Answers:
    def __init__(self):
        self.calls: list[tuple[str, str | None, str | None, str]] = []
        self.cond = threading.Condition()

    def cb(self, client_id):
        def on_answer(digits, reason):
            with self.cond:
                self.calls.append((client_id, digits, reason, threading.current_thread().name))
                self.cond.notify_all()
        return on_answer

    def wait(self, n, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.calls) >= n, timeout), self.calls
        return [c[:3] for c in self.calls]


@pytest.fixture
def console():
    made = []

    def make(mode="on", timeout=10.0, **kwargs):
        pipe, out = Pipe(), Out()
        p = ConsolePrompter(mode, timeout, stdin=pipe.stdin, stdout=out, **kwargs)
        made.append((p, pipe))
        return p, pipe, out

    yield make
    for p, pipe in made:
        p.close()
        pipe.close()
        pipe.stdin.close()


def test_request_returns_at_once_and_answers_on_the_console_thread(console):
    p, pipe, out = console()
    answers = Answers()
    began = time.monotonic()
    p.request_phone("c1", answers.cb("c1"))
    p.request_phone("c2", answers.cb("c2"))
    assert time.monotonic() - began < 0.05
    out.wait_for(f"[c1] {PROMPT_TEXT}")
    assert f"[c2] {PROMPT_TEXT}" not in out.getvalue()
    pipe.type("+49 151 1111111\n")
    out.wait_for(f"[c2] {PROMPT_TEXT}")
    pipe.type("+49 151 2222222\n")
    assert answers.wait(2) == [("c1", "491511111111", None), ("c2", "491512222222", None)]
    assert {c[3] for c in answers.calls} == {"wa-console"}


def test_lines_typed_before_a_prompt_appears_answer_nothing(console):
    p, pipe, out = console()
    answers = Answers()
    pipe.type("+49 151 9999999\n")  # nobody asked yet
    p.request_phone("c1", answers.cb("c1"))
    out.wait_for(f"[c1] {PROMPT_TEXT}")
    time.sleep(0.2)
    assert answers.calls == []
    pipe.type("+49 151 1111111\n+49 151 8888888\n")  # the second line came before c2's prompt
    assert answers.wait(1) == [("c1", "491511111111", None)]
    p.request_phone("c2", answers.cb("c2"))
    out.wait_for(f"[c2] {PROMPT_TEXT}")
    time.sleep(0.2)
    assert len(answers.calls) == 1
    pipe.type("+49 151 2222222\n")
    assert answers.wait(2)[1] == ("c2", "491512222222", None)


def test_disabled_answers_at_once_and_never_reads(console):
    p, pipe, out = console(mode="off")
    assert not p.enabled
    answers = Answers()
    p.request_phone("c1", answers.cb("c1"))
    assert answers.calls[:1] and answers.calls[0][:3] == ("c1", None, NO_PHONE)
    assert out.getvalue() == ""
    assert ConsolePrompter("auto", 5, stdin=pipe.stdin, stdout=out).enabled is False  # a pipe is no terminal
    assert ConsolePrompter("on", 5, stdin=io.StringIO(), stdout=out).enabled is False  # nothing to select() on
    with pytest.raises(ValueError):
        ConsolePrompter("yes", 5)


def test_close_answers_active_and_queued_prompts_once(console):
    p, pipe, out = console()
    answers = Answers()
    for cid in ("c1", "c2", "c3"):
        p.request_phone(cid, answers.cb(cid))
    out.wait_for(f"[c1] {PROMPT_TEXT}")
    began = time.monotonic()
    p.close()
    assert time.monotonic() - began < 1
    assert sorted(answers.wait(3)) == [(c, None, NO_PHONE) for c in ("c1", "c2", "c3")]
    p.request_phone("late", answers.cb("late"))
    assert answers.wait(4)[3] == ("late", None, NO_PHONE)
    time.sleep(0.2)
    assert len(answers.calls) == 4


def test_cancel_after_the_answer_and_twice_is_harmless(console):
    p, pipe, out = console()
    answers = Answers()
    ticket = p.request_phone("c1", answers.cb("c1"))
    out.wait_for(PROMPT_TEXT)
    pipe.type("+49 151 1111111\n")
    answers.wait(1)
    p.cancel(ticket)
    p.cancel(ticket)
    queued = p.request_phone("c2", answers.cb("c2"))
    p.cancel(queued)
    p.cancel(queued)
    p.close()
    time.sleep(0.1)
    assert [c[:3] for c in answers.calls] == [("c1", "491511111111", None)]


def test_codes_and_numbers_never_reach_the_log(console, caplog):
    caplog.set_level(logging.DEBUG)
    p, pipe, out = console(timeout=0.5)
    answers = Answers()
    p.request_phone("c1", answers.cb("c1"))
    out.wait_for(PROMPT_TEXT)
    p.show_pairing_code("c0", "WXYZ-QRST")  # shown above the waiting prompt, which is shown again
    out.wait_for("WXYZ-QRST")
    assert out.getvalue().endswith(f"[c1] {PROMPT_TEXT}")
    pipe.type("+49 151 1234567\n")
    answers.wait(1)
    p.request_phone("c2", answers.cb("c2"))
    answers.wait(2)  # times out
    text = out.getvalue()
    assert "[c0] Pairing code: WXYZ-QRST\n" in text and f"[c0] {LINK_STEPS}\n" in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "WXYZ" not in logged and "1234567" not in logged
    assert "[c1] console prompt answered" in logged
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "c1" in r.getMessage()]


def test_message_while_a_number_is_half_typed_shows_the_prompt_again_with_it(console):
    p, pipe, out = console()
    answers = Answers()
    p.request_phone("c1", answers.cb("c1"))
    out.wait_for(PROMPT_TEXT)
    pipe.type("+49 151")  # a pipe passes on what was typed before Enter
    time.sleep(0.2)
    p.show_pairing_code("c0", "WXYZ-QRST")
    prompt = f"[c1] {PROMPT_TEXT}"
    out.wait_for(f"{prompt}+49 151")
    assert out.getvalue() == f"{prompt}\n[c0] Pairing code: WXYZ-QRST\n[c0] {LINK_STEPS}\n{prompt}+49 151"
    pipe.type(" 2345678\n")
    assert answers.wait(1) == [("c1", "491512345678", None)]


def test_show_qr_prints_the_text_form(console):
    p, pipe, out = console()
    p.show_qr("c1", "2@abc,def")
    assert qr_text("2@abc,def") in out.getvalue()
    assert out.getvalue().startswith("[c1] Scan this QR code")


# ---- QR ------------------------------------------------------------------------------------------

def _png_pixels(png: bytes) -> list[list[int]]:
    """Decode the greyscale/palette PNG segno writes (bit depth 1-8, no interlace) to rows of
    sample values, with the stdlib only."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])[0]
        if kind == b"IDAT":
            idat += body
        else:
            chunks[kind] = body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert colour in (0, 3) and interlace == 0 and depth in (1, 2, 4, 8)
    raw = zlib.decompress(idat)
    stride = (width * depth + 7) // 8
    rows, prev = [], bytearray(stride)
    for y in range(height):
        filt, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - 1] if i else 0
            up, upleft = prev[i], (prev[i - 1] if i else 0)
            if filt == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filt == 4:
                pa, pb, pc = abs(up - upleft), abs(left - upleft), abs(left + up - 2 * upleft)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) & 0xFF
        bits = "".join(f"{b:08b}" for b in line)
        rows.append([int(bits[x * depth:(x + 1) * depth], 2) for x in range(width)])
        prev = line
    if colour == 3:  # palette: map to grey levels
        pal = chunks[b"PLTE"]
        rows = [[pal[3 * v] for v in row] for row in rows]
    else:
        top = (1 << depth) - 1
        rows = [[v * 255 // top for v in row] for row in rows]
    return rows


WA_QR = ("2@Yc5bQm0A1nF2sWkT6u0o4q7i9PpLhCqgZ3v8yXwMdEeRrTtUuIiOo,"
         "n0ZkRz4+1Kx3Qv6sJbX8uT2wYcA5eDgHiLmNoPq7rSt=,"
         "qK9vL2mN4pQ6rS8tU0wX2yZ4aB6cD8eF0gH2iJ4kL6=,"
         "Mx3Ty7Uw1Vz5Ab9Cd3Ef7Gh1Ij5Kl9Mn3Op7Qr1St5Uv=")


@pytest.mark.parametrize("data", ["2@abc,def,ghi,jkl", WA_QR])
def test_qr_png_decodes_to_the_symbol_segno_made(data):
    scale = 6
    png = qr_png(data, scale=scale)
    symbol = qr_symbol(data)
    assert not symbol.is_micro and symbol.designator.endswith(("L", "M", "Q", "H"))
    size = (symbol.symbol_size(border=PNG_BORDER)[0]) * scale
    pixels = _png_pixels(png)
    assert (len(pixels[0]), len(pixels)) == (size, size)
    assert 100 < len(png) < 20000  # 1-bit greyscale, compressed
    modules = [[1 if pixels[(PNG_BORDER + r) * scale + scale // 2][(PNG_BORDER + c) * scale + scale // 2] < 128
                else 0 for c in range(len(symbol.matrix))] for r in range(len(symbol.matrix))]
    assert modules == [list(row) for row in symbol.matrix]
    # quiet zone all light, and every module is a solid scale x scale square
    assert all(v == 255 for v in pixels[0]) and all(row[0] == 255 for row in pixels)
    assert all(pixels[y][x] == pixels[y - y % scale][x - x % scale]
               for y in range(0, size, 5) for x in range(0, size, 7))


@pytest.mark.parametrize("data", ["2@abc,def,ghi,jkl", WA_QR])
def test_qr_text_draws_the_same_symbol(data):
    text = qr_text(data)
    matrix = [list(row) for row in qr_symbol(data).matrix]
    n = len(matrix)
    # half blocks, two rows per line; light modules are drawn (light-on-dark terminal)
    light_top = {" ": 0, "\u2580": 1, "\u2584": 0, "\u2588": 1}
    light_bottom = {" ": 0, "\u2580": 0, "\u2584": 1, "\u2588": 1}
    lines = text.split("\n")
    assert lines[-1] == "" and all(len(line) == n + 2 * TEXT_BORDER for line in lines[:-1])
    rows = []
    for line in lines[:-1]:
        rows.append([light_top[ch] for ch in line])
        rows.append([light_bottom[ch] for ch in line])
    assert len(rows) - (n + 2 * TEXT_BORDER) in (0, 1)  # an odd row count leaves a blank lower half
    grid = [[1 - v for v in row] for row in rows[:n + 2 * TEXT_BORDER]]  # back to dark = 1
    body = [row[TEXT_BORDER:TEXT_BORDER + n] for row in grid[TEXT_BORDER:TEXT_BORDER + n]]
    assert body == matrix
    assert all(v == 0 for v in grid[0]) and all(row[0] == 0 for row in grid)
    assert len(lines) - 1 == (n + 2 * TEXT_BORDER + 1) // 2
    # and it is what segno itself renders for this content
    buf = io.StringIO()
    segno.make(data, error="l", micro=False).terminal(out=buf, compact=True, border=TEXT_BORDER)
    assert buf.getvalue() == text


def test_log_records_go_above_a_waiting_prompt(console):
    p, pipe, out = console()
    handler = p.log_handler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test_console.handler")
    logger.propagate, logger.level = False, logging.INFO
    logger.addHandler(handler)
    try:
        logger.info("before any prompt")
        answers = Answers()
        p.request_phone("c1", answers.cb("c1"))
        out.wait_for(PROMPT_TEXT)
        logger.info("while it waits")
        pipe.type("+49 151 1111111\n")
        answers.wait(1)
        logger.info("after the answer")
    finally:
        logger.removeHandler(handler)
    prompt = f"[c1] {PROMPT_TEXT}"
    assert out.getvalue() == (f"INFO before any prompt\n{prompt}\nINFO while it waits\n{prompt}"
                              "INFO after the answer\n")
