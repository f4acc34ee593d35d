"""Contract of wamulti/seams/cpython_internals.py: this interpreter is in setup.cfg's range and its frames read as used."""

from __future__ import annotations

import configparser
import sys
import threading
import time
from pathlib import Path

import pytest

from wamulti.seams import cpython_internals as seam

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def enter(function, args):
    return function(*args)


def test_this_interpreter_is_in_the_range_the_frame_reading_was_checked_on():
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    assert config["options"]["python_requires"] == ">=3.11,<3.14"
    assert (3, 11) <= sys.version_info[:2] < (3, 14)
    assert callable(sys._current_frames) and isinstance(sys._getframe().f_lasti, int)


def test_call_offset_finds_the_one_call_and_refuses_two():
    assert isinstance(seam.call_offset(enter), int)

    def two_calls(f):
        return f(f())

    with pytest.raises(ValueError):
        seam.call_offset(two_calls)


def test_a_thread_inside_the_call_is_seen_and_one_elsewhere_is_not():
    offset = seam.call_offset(enter)
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            sum(range(100))

    waiting = threading.Thread(target=enter, args=(time.sleep, (1.0,)))
    busy = threading.Thread(target=spin)
    waiting.start()
    busy.start()
    try:
        deadline = time.monotonic() + 2
        while waiting.ident not in seam.threads_inside_call(enter, offset, {waiting.ident}):
            assert time.monotonic() < deadline, "a thread sleeping inside enter()'s call is seen"
            time.sleep(0.01)
        assert seam.threads_inside_call(enter, offset, {busy.ident, 0}) == set()
    finally:
        stop.set()
        waiting.join()
        busy.join()
    assert seam.threads_inside_call(enter, offset, {waiting.ident}) == set(), "a finished thread has no frame"
