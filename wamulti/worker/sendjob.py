"""SendJob: one send's life, agreed between the caller waiting for it and the send thread doing it.

QUEUED -> RUNNING -> DONE, or QUEUED -> CANCELLED. Each step happens under one lock, so a send that
was cancelled never starts, and a caller whose deadline passed learns exactly one of: it never
started (cancelled), it is under way (abandoned: the outcome is told later), or it is done.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any


class JobState(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class SendJob:
    """A send of `text` to `to` under the id `message_id`; `chat` becomes the resolved JID."""

    def __init__(self, message_id: str, to: str, text: str, chat: str):
        self.message_id, self.to, self.text, self.chat = message_id, to, text, chat
        self._cond = threading.Condition()
        self._state = JobState.QUEUED
        self._abandoned = False  # the caller stopped waiting while it ran
        self._result: Any = None
        self._error: BaseException | None = None

    def start(self) -> bool:
        """Send thread: take the job; False if it was cancelled while queued (then do nothing)."""
        with self._cond:
            if self._state is not JobState.QUEUED:
                return False
            self._state = JobState.RUNNING
            return True

    def cancel(self, error: BaseException) -> bool:
        """Cancel a job that has not started; its caller gets `error`. False if it had started."""
        with self._cond:
            if self._state is not JobState.QUEUED:
                return False
            self._state, self._error = JobState.CANCELLED, error
            self._cond.notify_all()
            return True

    def finish(self, result: Any = None, error: BaseException | None = None) -> bool:
        """Send thread: the outcome. True if the caller had already stopped waiting (no one saw it)."""
        with self._cond:
            self._state, self._result, self._error = JobState.DONE, result, error
            self._cond.notify_all()
            return self._abandoned

    def wait(self, timeout: float, cancelled_error: BaseException) -> tuple[JobState, bool]:
        """Caller: wait up to timeout; (state, timed_out). A job still queued then is cancelled with
        `cancelled_error`; a running one is abandoned (state RUNNING)."""
        with self._cond:
            finished = self._cond.wait_for(lambda: self._state in (JobState.DONE, JobState.CANCELLED), timeout)
            if finished:
                return self._state, False
            if self._state is JobState.QUEUED:
                self._state, self._error = JobState.CANCELLED, cancelled_error
            else:
                self._abandoned = True
            return self._state, True

    def outcome(self) -> Any:
        """The result of a finished job, or raise its error (also a cancelled job's)."""
        with self._cond:
            if self._error is not None:
                raise self._error
            return self._result
