"""random_bytes: kernel randomness drawn a block at a time, each byte handed out once, per process."""

from __future__ import annotations

import os
import threading

from wamulti import randomness
from wamulti.randomness import random_bytes


def test_draws_are_handed_out_once_across_blocks_and_threads(monkeypatch):
    calls = []
    real_urandom = os.urandom
    monkeypatch.setattr(randomness.os, "urandom", lambda n: calls.append(n) or real_urandom(n))
    monkeypatch.setattr(randomness, "_block", b"")
    draws: list[bytes] = []

    def draw():
        for _ in range(500):
            draws.append(random_bytes(10))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(draws) == 2000 and all(len(d) == 10 for d in draws)
    assert len(set(draws)) == 2000
    assert len(calls) == -(-2000 // (randomness.BLOCK // 10)), "one system call per block of draws"
    assert len(random_bytes(randomness.BLOCK * 2)) == randomness.BLOCK * 2, "larger than a block: still whole"


def test_a_forked_child_does_not_repeat_its_parents_bytes():
    random_bytes(1)  # the parent holds a block now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next bytes, to the parent
        os.write(write, random_bytes(16))
        os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.waitpid(pid, 0)
    assert len(child) == 16 and child != random_bytes(16)
