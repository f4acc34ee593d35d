"""A ConsolePrompter on the real stdin/stdout, for tests/test_console.py to drive through a pty.

    python tests/console_harness.py [--mode auto|on|off] [--timeout S] [--tries N] [--code]
                                    [--control FILE] CLIENT_ID...

Prints "ENABLED <bool>", then fires one request_phone() per client id at the same moment from
one thread each, and prints "RESULT <id> <digits-or-None> <reason>" for every on_answer call
(so a second call for a ticket would show up as a second RESULT line). With --code, each number
answered is followed by show_pairing_code(id, "TEST-<ID>"), as the worker does. On SIGUSR1 the
client ids listed in the --control file are cancelled, in file order ("CANCELLED <id>"). Once
every client is answered or cancelled it waits a moment for stray answers, closes the prompter
and prints "DONE".
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wamulti.console import CONSOLE_LOCK, ConsolePrompter  # noqa: E402

GRACE = 0.3      # seconds to wait for stray on_answer calls after the last expected one
LIFETIME = 60.0  # never outlive a broken test


def say(line: str) -> None:
    with CONSOLE_LOCK:
        sys.stdout.write(f"\n{line}\n")
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--code", action="store_true")
    parser.add_argument("--control")
    parser.add_argument("ids", nargs="+")
    args = parser.parse_args()

    prompter = ConsolePrompter(args.mode, args.timeout, max_tries=args.tries)
    say(f"ENABLED {prompter.enabled}")
    events: queue.Queue = queue.Queue()
    tickets: dict[str, object] = {}
    start = threading.Barrier(len(args.ids))

    def fire(client_id: str) -> None:
        start.wait()
        began = time.monotonic()
        tickets[client_id] = prompter.request_phone(
            client_id, lambda digits, reason: events.put(("answer", client_id, digits, reason)))
        events.put(("queued", client_id, time.monotonic() - began, None))

    def on_usr1(signum, frame):
        with open(args.control, encoding="utf-8") as f:
            for client_id in f.read().split():
                prompter.cancel(tickets[client_id])
                events.put(("cancelled", client_id, None, None))

    signal.signal(signal.SIGUSR1, on_usr1)
    for client_id in args.ids:
        threading.Thread(target=fire, args=(client_id,), daemon=True).start()

    open_ids = set(args.ids)
    quiet_since = None
    give_up = time.monotonic() + LIFETIME
    while time.monotonic() < give_up:
        if not open_ids:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= GRACE:
                break
        try:
            kind, client_id, a, b = events.get(timeout=0.05)
        except queue.Empty:
            continue
        if kind == "queued":
            say(f"QUEUED {client_id} {a:.3f}")  # how long request_phone() took
        elif kind == "answer":
            say(f"RESULT {client_id} {a} {b}")
            open_ids.discard(client_id)
            if args.code and a is not None:
                prompter.show_pairing_code(client_id, f"TEST-{client_id[:4].upper():X<4}")
        else:
            say(f"CANCELLED {client_id}")
            open_ids.discard(client_id)
    prompter.close()
    say("DONE" if not open_ids else f"GAVE UP {' '.join(sorted(open_ids))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
