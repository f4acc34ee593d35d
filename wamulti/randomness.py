"""Random bytes from the kernel, drawn a block at a time: one system call per few hundred ids.

os.urandom gives the GIL up for its system call, and taking it back waits behind every busy thread:
0.12 ms a call (wall) in a request thread under load, and an accepted send (its message id) and its
`server` ack (the event id) drew one each. The bytes are the same kernel CSPRNG output, each handed
out once; a process made by fork draws a block of its own (it must not repeat its parent's ids).
Standard library only, so the event vocabulary (hearing/event_model.py) stays pure.
"""

from __future__ import annotations

import os
import threading

BLOCK = 4096  # bytes per system call

_lock = threading.Lock()
_block = b""
_taken = 0


def random_bytes(count: int) -> bytes:
    """`count` bytes no other call of this process got."""
    global _block, _taken
    with _lock:
        if _taken + count > len(_block):
            _block, _taken = os.urandom(max(BLOCK, count)), 0
        start, _taken = _taken, _taken + count
        return _block[start:_taken]


def _forget_block() -> None:
    global _block, _taken
    _block, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_block)
