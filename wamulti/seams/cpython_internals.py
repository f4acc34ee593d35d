"""Where wamulti reads CPython's frames of other threads (3.11 to 3.13, setup.cfg's python_requires).

The Go lock must tell a thread inside a C call from one about to make it (GoLock, backends/neonize/gocalls.py):
a thread that waits for the GIL on its way in has not entered Go yet, and counting it as inside
would let a writer pass before the call's client lookup. Only the frames say which: a thread stopped
at a function's call instruction is in that call (it released the GIL there), one stopped anywhere
before it is not. `sys._current_frames()` (documented "for internal and specialized purposes") and
`frame.f_lasti` are what this reads; tests/test_seams_cpython.py checks both on this interpreter.
"""

from __future__ import annotations

import dis
import sys
from typing import Callable, Iterable


def call_offset(function: Callable) -> int:
    """The bytecode offset of the one call instruction in `function` (the place a thread waits while
    inside the call)."""
    offsets = [i.offset for i in dis.get_instructions(function) if i.opname.startswith("CALL")]
    if len(offsets) != 1:
        raise ValueError(f"{function.__qualname__} must make exactly one call, makes {len(offsets)}")
    return offsets[0]


def threads_inside_call(function: Callable, offset: int, thread_ids: Iterable[int]) -> set[int]:
    """Which of these threads are stopped, as their innermost Python frame, at `function`'s call
    instruction (`offset`, from call_offset): in the call, or just back from it waiting for the GIL."""
    frames = sys._current_frames()
    code = function.__code__
    inside = set()
    for thread_id in thread_ids:
        frame = frames.get(thread_id)
        if frame is not None and frame.f_code is code and frame.f_lasti == offset:
            inside.add(thread_id)
    return inside
