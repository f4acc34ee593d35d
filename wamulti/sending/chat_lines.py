"""ChatLines: one client's open sends in memory, a line per chat in order of acceptance.

A row is here from its acceptance (or the queue's load) until its outcome is told. It waits in its
chat's line until it is claimed in the store; then it is off the line and under way, on a send
thread, with at most one send under way per chat. The futures of the requests waiting for a send
are kept here with its id and resolved once, with its outcome.

Not thread-safe: the Dispatcher's lock guards every call.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from datetime import datetime

from ..store.send_rows import OutboundRow


class ChatLines:
    """The lines, the chats with a send under way, and who waits for which send."""

    def __init__(self, send_threads: int):
        self._send_threads = send_threads  # sends under way at once, at most
        self._lines: dict[str, deque[OutboundRow]] = {}  # chat -> rows not yet claimed, in order
        self._waiting: dict[str, list[Future]] = {}  # id of every row here -> futures of requests waiting
        self._busy: dict[str, str] = {}  # chat -> id of its send under way
        self._claimed: dict[str, float] = {}  # ids in a line claimed already (see Dispatcher) -> when
        self._early: dict[str, list[Future]] = {}  # ids not here (yet) -> futures of replays waiting

    def has_work(self) -> bool:
        """A row is queued or under way."""
        return bool(self._waiting)

    def open_count(self) -> int:
        """Rows queued or under way."""
        return len(self._waiting)

    def under_way(self) -> int:
        """Chats with a send under way."""
        return len(self._busy)

    def has_lines(self) -> bool:
        """A row waits in a line."""
        return bool(self._lines)

    def add(self, row: OutboundRow) -> bool:
        """Queue a row not here yet, with the futures of the requests listening for it; True if it may
        go at once."""
        if row.message_id in self._waiting:
            return False
        self._waiting[row.message_id] = self._early.pop(row.message_id, [])
        line = self._lines.setdefault(row.recipient, deque())
        at = len(line)  # in order of acceptance: another instance's row may be found after a later one of ours
        while at > 0 and row.seq and line[at - 1].seq > row.seq:
            at -= 1
        line.insert(at, row)
        return len(line) == 1 and row.recipient not in self._busy

    def listen(self, message_id: str) -> Future:
        """A future told the send's outcome if it ends here, also if its row comes later (a new send,
        or a replay's); the caller cancels it when it stops waiting (one for a send that ended, or is
        not ours, is never told)."""
        future: Future = Future()
        waiting = self._waiting.get(message_id)
        if waiting is not None:
            waiting.append(future)
            return future
        self._early = {key: futures for key, futures in self._early.items()
                       if not all(f.cancelled() for f in futures)}  # those that stopped waiting
        self._early.setdefault(message_id, []).append(future)
        return future

    def next_head(self) -> OutboundRow | None:
        """The oldest first row of a chat with nothing under way (left in its line), if a send may start."""
        if len(self._busy) >= self._send_threads:
            return None
        heads = [(line[0].seq, chat) for chat, line in self._lines.items() if chat not in self._busy]
        if not heads:
            return None
        return self._lines[min(heads)[1]][0]

    def head(self, chat: str) -> OutboundRow | None:
        line = self._lines.get(chat)
        return line[0] if line else None

    def start(self, row: OutboundRow) -> None:
        """The row's chat has a send under way from now on: its next row waits."""
        self._busy[row.recipient] = row.message_id

    def free(self, chat: str) -> None:
        """The chat's send under way ended (or never began): its next row may go."""
        self._busy.pop(chat, None)

    def leave(self, row: OutboundRow) -> None:
        """The row is claimed: off its line, under way."""
        line = self._lines.get(row.recipient)
        if line is not None and row in line:
            line.remove(row)
            if not line:
                del self._lines[row.recipient]

    def mark_claimed(self, row: OutboundRow, when: float) -> None:
        """The row, still in a line, is claimed in the store already: its send needs no claim."""
        if row.message_id in self._waiting:
            self._claimed[row.message_id] = when

    def keep_claimed(self, row: OutboundRow, when: float) -> None:
        """A claimed row its sender refused (the run ended): first in its line again, marked claimed."""
        if row.message_id in self._waiting:
            self._lines.setdefault(row.recipient, deque()).appendleft(row)
            self._claimed[row.message_id] = when

    def claimed_at(self, row: OutboundRow) -> float | None:
        """When the row was claimed with the send before it (and taken off the record), else None."""
        return self._claimed.pop(row.message_id, None)

    def settle(self, message_id: str) -> list[Future]:
        """The send ended or is no longer ours: forget it; the futures waiting for it."""
        self._claimed.pop(message_id, None)
        return self._waiting.pop(message_id, [])

    def drop(self, row: OutboundRow) -> list[Future]:
        """A queued row that will not be sent: off its line and forgotten; the futures waiting for it."""
        self.leave(row)
        return self.settle(row.message_id)

    def older_than(self, cutoff: datetime) -> list[OutboundRow]:
        """The rows in a line accepted before cutoff."""
        return [row for line in self._lines.values() for row in line if row.created_at and row.created_at < cutoff]

    def drop_lines(self) -> list[list[Future]]:
        """Every row in a line dropped (the client was deleted); the futures waiting for each."""
        dropped = [self.settle(row.message_id) for line in self._lines.values() for row in line]
        self._lines.clear()
        return dropped


def tell(futures: list[Future], outcome: object) -> bool:
    """Resolve the futures with a send's outcome (a Sent, or the error it ended with); True if a
    request was still waiting (one that stopped waiting cancelled its future first)."""
    told = False
    for future in futures:
        if not future.set_running_or_notify_cancel():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
        told = True
    return told
