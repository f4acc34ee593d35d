"""The console's building blocks on their own: TerminalInput on a real pipe and a real pseudo-terminal,
Screen and its log handler on in-memory streams, PromptTicket."""

from __future__ import annotations

import io
import logging
import os
import threading
import time

import pytest

from wamulti.console import PromptAwareHandler, PromptTicket, Screen, TerminalInput, Waited


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def read_line(term: TerminalInput, deadline: float) -> str | None:
    """What the prompter does: wait until a line is complete (None if input ends or time runs out)."""
    while not term.has_line():
        if term.wait(deadline) is Waited.ENDED or time.monotonic() >= deadline:
            return None
    return term.take_line()


@pytest.fixture
def pipe():
    """A TerminalInput reading an os.pipe(); yields (input, {"r": read end, "w": write end})."""
    r, w = os.pipe()
    term = TerminalInput(r)
    fds = {"r": r, "w": w}
    yield term, fds
    term.close()
    os.close(r)
    if fds["w"] >= 0:
        os.close(fds["w"])


@pytest.fixture
def pty():
    """A TerminalInput reading the slave side of a pseudo-terminal (not our controlling terminal);
    yields (input, {"master": master fd})."""
    master, slave = os.openpty()
    term = TerminalInput(slave)
    fds = {"master": master}
    yield term, fds
    term.close()
    os.close(slave)
    if fds["master"] >= 0:
        os.close(fds["master"])


def close_writer(fds, key):
    os.close(fds[key])
    fds[key] = -1


def test_lines_typed_in_one_go_are_taken_one_at_a_time(pipe):
    term, fds = pipe
    os.write(fds["w"], b"first\r\nsecond\nthird, unfinished")
    assert read_line(term, soon()) == "first"  # a CR before the newline is dropped
    assert term.has_line()
    assert term.take_line() == "second"
    assert not term.has_line()
    assert term.unfinished_line() == "third, unfinished"
    os.write(fds["w"], b" now\n")
    assert read_line(term, soon()) == "third, unfinished now"


def test_input_that_is_not_utf8_is_read_with_replacement_characters(pipe):
    term, fds = pipe
    os.write(fds["w"], b"+49 \xff151\n")
    assert read_line(term, soon()) == "+49 \ufffd151"


def test_wait_ends_at_the_deadline_and_at_once_when_it_has_passed(pipe):
    term, _ = pipe
    began = time.monotonic()
    assert read_line(term, began + 0.3) is None
    assert 0.25 <= time.monotonic() - began < 2
    began = time.monotonic()
    assert term.wait(began - 1) is Waited.ENDED
    assert time.monotonic() - began < 0.1
    assert not term.at_eof


def test_wake_from_another_thread_ends_a_wait_at_once(pipe):
    term, _ = pipe
    threading.Timer(0.2, term.wake).start()
    began = time.monotonic()
    assert term.wait(soon(10)) is Waited.WOKEN
    assert 0.15 <= time.monotonic() - began < 2
    # the wake-up was used up: the next wait waits again
    assert term.wait(time.monotonic() + 0.2) is Waited.AGAIN
    assert not term.has_line()


def test_line_that_came_with_a_wake_up_is_read_by_the_next_wait(pipe):
    term, fds = pipe
    os.write(fds["w"], b"+49 151 2345678\n")
    term.wake()
    assert term.wait(soon()) is Waited.WOKEN
    assert not term.has_line() and term.unfinished_line() == ""  # the caller looks around first
    assert read_line(term, soon()) == "+49 151 2345678"


def test_many_wake_ups_end_one_wait_each_at_most(pipe):
    term, _ = pipe
    for _ in range(100_000):  # more than the pipe holds: extra wake-ups are dropped, not blocking
        term.wake()
    assert term.wait(soon()) is Waited.WOKEN
    assert term.wait(time.monotonic() + 0.1) is Waited.AGAIN


def test_end_of_input_counts_a_last_line_without_newline_and_is_sticky(pipe):
    term, fds = pipe
    os.write(fds["w"], b"+49 151 2345678")
    close_writer(fds, "w")
    assert read_line(term, soon()) == "+49 151 2345678"
    assert term.at_eof
    began = time.monotonic()
    assert read_line(term, soon()) is None
    assert time.monotonic() - began < 1
    assert term.at_eof


def test_end_of_input_after_blanks_is_no_line(pipe):
    term, fds = pipe
    os.write(fds["w"], b"  \t")
    close_writer(fds, "w")
    assert term.wait(soon()) is Waited.AGAIN  # the blanks
    assert term.wait(soon()) is Waited.ENDED
    assert term.at_eof and not term.has_line()


def test_discard_drops_typed_lines_and_unfinished_input(pipe):
    term, fds = pipe
    os.write(fds["w"], b"typed ahead\nhalf")
    assert term.wait(soon()) is Waited.AGAIN
    os.write(fds["w"], b" more\nand more\n")
    term.discard_typed_ahead()
    assert not term.has_line() and term.unfinished_line() == ""
    assert term.wait(time.monotonic() + 0.1) is Waited.AGAIN  # nothing left to read
    assert not term.has_line()
    os.write(fds["w"], b"the answer\n")
    assert read_line(term, soon()) == "the answer"


def test_discard_notices_end_of_input(pipe):
    term, fds = pipe
    os.write(fds["w"], b"typed ahead\n")
    close_writer(fds, "w")
    term.discard_typed_ahead()
    assert term.at_eof


def test_close_leaves_the_input_open_and_later_wake_ups_are_harmless(pipe):
    term, fds = pipe
    term.close()
    term.wake()
    term.close()
    os.write(fds["w"], b"still readable\n")
    assert os.read(fds["r"], 100) == b"still readable\n"


def test_terminal_line_is_read_when_enter_is_pressed(pty):
    term, fds = pty
    assert term.foreground()  # not our controlling terminal: no job control applies
    os.write(fds["master"], b"+49 151")
    assert term.wait(time.monotonic() + 0.3) is Waited.AGAIN  # canonical mode: nothing before Enter
    assert not term.has_line() and term.unfinished_line() == ""
    os.write(fds["master"], b" 2345678\n")
    assert read_line(term, soon()) == "+49 151 2345678"


def test_terminal_that_goes_away_ends_the_input(pty):
    term, fds = pty
    close_writer(fds, "master")
    assert read_line(term, soon()) is None
    assert term.at_eof


# ---- Screen --------------------------------------------------------------------------------------

def test_screen_writes_log_text_plainly_when_no_prompt_waits():
    out, log = io.StringIO(), io.StringIO()
    screen = Screen(out, typed=lambda: "ignored")
    screen.write("hello\n")
    screen.write_above_prompt(log, "a record\n")
    assert (out.getvalue(), log.getvalue()) == ("hello\n", "a record\n")


def test_screen_puts_log_text_on_its_own_line_and_shows_the_prompt_again_with_what_was_typed():
    out, log = io.StringIO(), io.StringIO()
    screen = Screen(out, typed=lambda: "+49 15")
    screen.write("Number? ", "Number? ")
    screen.write_above_prompt(log, "a record\n")
    assert out.getvalue() == "Number? \nNumber? +49 15"
    assert log.getvalue() == "a record\n"
    screen.forget_prompt()  # Enter was pressed
    screen.write_above_prompt(log, "later\n")
    assert out.getvalue() == "Number? \nNumber? +49 15"
    assert log.getvalue() == "a record\nlater\n"


def test_screen_interrupts_a_prompt_with_whole_lines():
    out = io.StringIO()
    screen = Screen(out)
    screen.write("reason. Number? ", "Number? ")
    screen.interrupt_prompt("code 1\ncode 2\n", "Number? ")
    assert out.getvalue() == "reason. Number? \ncode 1\ncode 2\nNumber? "
    screen.write_above_prompt(out, "rec\n")  # the prompt is still the one waiting
    assert out.getvalue().endswith("Number? \nrec\nNumber? ")


def test_screen_survives_a_closed_stream():
    out = io.StringIO()
    screen = Screen(out)
    out.close()
    screen.write("lost", "lost")
    screen.interrupt_prompt("lost\n", "lost")
    screen.write_above_prompt(io.StringIO(), "rec\n")


def test_log_handler_writes_formatted_records_through_the_screen():
    out, log = io.StringIO(), io.StringIO()
    screen = Screen(out)
    handler = PromptAwareHandler(screen, log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    screen.write("P> ", "P> ")
    handler.emit(logging.LogRecord("x", logging.WARNING, __file__, 1, "careful %s", ("now",), None))
    assert log.getvalue() == "WARNING careful now\n"
    assert out.getvalue() == "P> \nP> "


# ---- PromptTicket --------------------------------------------------------------------------------

def test_ticket_is_answered_once_and_never_after_it_was_cancelled():
    calls = []
    ticket = PromptTicket("c1", lambda digits, reason: calls.append((digits, reason)))
    assert ticket.answer("491511111111", None)
    assert not ticket.answer(None, "no_phone_number")
    assert not ticket.cancel() and not ticket.cancelled  # too late: it was answered
    assert calls == [("491511111111", None)]

    other = PromptTicket("c2", lambda digits, reason: calls.append((digits, reason)))
    assert other.cancel() and other.cancelled
    assert not other.cancel()
    assert not other.answer("491512222222", None)
    assert calls == [("491511111111", None)]
