"""RecipientBook: which JID WhatsApp has for a phone number, asked once and remembered a while.

WhatsApp, not we, knows which form of a number an account is registered under (Brazil's 9th
digit, Mexico's and Argentina's mobile prefixes) and whether there is an account at all. Asking
costs a network round trip, so each client remembers the answers: "found" for FOUND_SECONDS,
"not on WhatsApp" for MISSING_SECONDS (people install WhatsApp; accounts do not move as often),
at most MAX_NUMBERS numbers, the least recently asked going first. Concurrent sends to the same
new number wait for one lookup instead of each asking. A lookup that fails is not remembered.

One book per client, shared by its sends and by POST /api/clients/<id>/check (`resolve_many`: the
numbers not remembered are asked in ONE round trip), and kept across reconnects: an answer does
not depend on the connection that got it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

FOUND_SECONDS = 3600.0
MISSING_SECONDS = 300.0
MAX_NUMBERS = 2048


class RecipientBook:
    """One client's answers to "is this number on WhatsApp?"; any thread may call resolve()."""

    def __init__(self, *, found_seconds: float = FOUND_SECONDS, missing_seconds: float = MISSING_SECONDS,
                 max_numbers: int = MAX_NUMBERS, clock: Callable[[], float] = time.monotonic):
        self._found_seconds, self._missing_seconds = found_seconds, missing_seconds
        self._max_numbers = max_numbers
        self._clock = clock
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, tuple[str | None, float]] = OrderedDict()  # digits -> (jid, expires)
        self._asking: dict[str, threading.Event] = {}  # numbers whose lookup is under way

    def resolve(self, digits: str, lookup: Callable[[str], str | None]) -> str | None:
        """The JID for the number (None: not on WhatsApp), from memory or by `lookup`, which may raise."""
        while True:
            with self._lock:
                answer = self._remembered(digits)
                if answer is not None:
                    return answer[0]
                asking = self._asking.get(digits)
                if asking is None:
                    self._asking[digits] = threading.Event()
                    break
            asking.wait()  # another send is asking: use its answer (or ask again if it failed)
        try:
            jid = lookup(digits)
        except BaseException:
            self._done_asking(digits, None)
            raise
        self._done_asking(digits, (jid,))
        return jid

    def resolve_many(self, numbers: list[str],
                     lookup_many: Callable[[list[str]], dict[str, str | None]]) -> dict[str, str | None]:
        """Each number's JID (None: not on WhatsApp): from memory, or from one `lookup_many` call for
        the rest; numbers another caller is asking about meanwhile are waited for. It may raise."""
        answers: dict[str, str | None] = {}
        waiting = list(dict.fromkeys(numbers))
        while waiting:
            mine, others = self._claim(waiting, answers)
            if mine:
                self._ask(mine, lookup_many, answers)
            for event in others.values():
                event.wait()  # their answers are remembered now (or they failed: asked again)
            waiting = list(others)
        return answers

    def _claim(self, numbers: list[str], answers: dict[str, str | None]):
        """Fill answers from memory; the numbers this caller asks now, and those others are asking."""
        mine, others = [], {}
        with self._lock:
            for digits in numbers:
                known = self._remembered(digits)
                if known is not None:
                    answers[digits] = known[0]
                elif digits in self._asking:
                    others[digits] = self._asking[digits]
                else:
                    self._asking[digits] = threading.Event()
                    mine.append(digits)
        return mine, others

    def _ask(self, numbers: list[str], lookup_many, answers: dict[str, str | None]) -> None:
        try:
            found = lookup_many(numbers)
        except BaseException:
            for digits in numbers:
                self._done_asking(digits, None)
            raise
        for digits in numbers:
            answers[digits] = found.get(digits)
            self._done_asking(digits, (answers[digits],))

    def forget(self, digits: str) -> None:
        with self._lock:
            self._answers.pop(digits, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._answers)

    # ---- under self._lock ----------------------------------------------------------------------
    def _remembered(self, digits: str) -> tuple[str | None] | None:
        entry = self._answers.get(digits)
        if entry is None:
            return None
        jid, expires = entry
        if self._clock() >= expires:
            del self._answers[digits]
            return None
        self._answers.move_to_end(digits)
        return (jid,)

    def _done_asking(self, digits: str, answer: tuple[str | None] | None) -> None:
        with self._lock:
            if answer is not None:
                jid = answer[0]
                ttl = self._found_seconds if jid is not None else self._missing_seconds
                self._answers[digits] = (jid, self._clock() + ttl)
                self._answers.move_to_end(digits)
                while len(self._answers) > self._max_numbers:
                    self._answers.popitem(last=False)
            self._asking.pop(digits).set()
