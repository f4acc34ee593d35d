"""What idle threads cost the busy ones: the CPU time of a GIL hand-off with many threads parked.

Each idle client holds two threads (`wa-<id>`, `wa-<id>-conn`), parked in a lock wait, which on
Linux is a futex wait. This measures the CPU time of a system call that lets the GIL go
(`os.urandom`) while 4 threads take turns, with 0 and more idle threads parked either in a lock
wait (queue.get: a futex) or in a read() of a pipe (no futex): the first grows with the number of
parked threads (the kernel's futex hash has a bucket chain to walk per wait and wake), the second
does not. bench/README.md ("Capacity") has the figures and why a create at 5,000 clients costs twice
one at 2,000.

    python -m bench.thread_handoffs                 # 0, 4,000 and 10,000 parked threads, both ways (~40 s)
    python -m bench.thread_handoffs --parked 0 2000 5000
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import threading
import time

CALLS = 20_000
BUSY = 4


def _parked(count: int, how: str) -> None:
    """`count` daemon threads blocked for good: in a futex wait, or in a read() of a pipe."""
    if how == "lock":
        for _ in range(count):
            threading.Thread(target=queue.Queue().get, daemon=True).start()
    else:
        readable, _ = os.pipe()
        for _ in range(count):
            threading.Thread(target=os.read, args=(readable, 1), daemon=True).start()


def _busy() -> float:
    """Microseconds of CPU per os.urandom call while BUSY threads take turns at the GIL."""
    per_call: list[float] = []

    def turns() -> None:
        began = time.thread_time()
        for _ in range(CALLS):
            os.urandom(16)
        per_call.append(1e6 * (time.thread_time() - began) / CALLS)

    threads = [threading.Thread(target=turns) for _ in range(BUSY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statistics.median(per_call)


def one(count: int, how: str) -> float:
    _parked(count, how)
    time.sleep(0.5)  # every parked thread is in its wait
    return _busy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parked", type=int, nargs="+", default=[0, 4000, 10000])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per reading (the median is shown)")
    parser.add_argument("--one", nargs=2, metavar=("COUNT", "HOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a fresh process per reading: parked threads cannot be taken back
        print(one(int(args.one[0]), args.one[1]))
        return
    print(f"{'parked threads':>15} {'in a lock wait (us CPU/call)':>30} {'in read() (us CPU/call)':>25}"
          f"   (median of {args.repeat} processes each)")
    for count in args.parked:
        row = [statistics.median(_reading(count, how) for _ in range(args.repeat)) for how in ("lock", "read")]
        print(f"{count:>15,} {row[0]:>30.2f} {row[1]:>25.2f}")


def _reading(count: int, how: str) -> float:
    done = subprocess.run([sys.executable, "-m", "bench.thread_handoffs", "--one", str(count), how],
                          capture_output=True, text=True, check=True)
    return float(done.stdout)


if __name__ == "__main__":
    main()
