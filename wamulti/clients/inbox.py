"""What arrives in a worker's inbox besides the passing of time.

Backend events come wrapped with the generation of the session that emitted them, so the
worker can ignore what an ended session still says.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

from ..backends.backend_api import Event


@dataclass(frozen=True)
class SessionEvent:
    """A backend event (posted by the backend, on any thread)."""

    generation: int
    event: Event


@dataclass(frozen=True)
class ConnectionEnded:
    """connect() returned or raised (posted by the connection thread)."""

    generation: int
    error: str | None


@dataclass(frozen=True)
class PhoneAnswer:
    """The console's answer to a phone-number prompt (posted by the console thread)."""

    digits: str | None
    reason: str | None


@dataclass(frozen=True)
class Stop:
    """Stop the client (posted by a command); with delete, log out and remove its local data.

    A delete's `outcome` (a Future) gets the worker.unlink.Unlinked once the keys are removed.
    """

    delete: bool
    outcome: Future | None = None


@dataclass(frozen=True)
class PairAgain:
    """Abandon the running pairing attempt and start a fresh one (posted by a command)."""

    phone: str | None


@dataclass(frozen=True)
class FlushDue:
    """The periodic check found something for the store: a changed session file, or a row or snapshot
    write to try again (posted by the `session-checks` thread, sessions/session_checks.py)."""
