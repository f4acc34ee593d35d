"""Options: what every run of one client is given (run.py), fixed for the worker's life."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..backends.backend_api import Backend, BackendSession
from ..backends.conversation_api import CallOffered
from ..sending.preparation import Preparation
from ..sending.recipients import RecipientBook
from ..sessions.session_checks import SessionChecks
from .pairing import Prompter


@dataclass(frozen=True)
class Options:
    """What every run of one client is given."""

    client_id: str
    backend: Backend
    prompter: Prompter
    session_path: Path
    pairing_timeout: float
    snapshot_interval: float
    unlink_timeout: float = 5.0  # a delete's attempt to connect and log out (clients/unlink.py)
    # the client's "is this number on WhatsApp?" answers: one book for its sends and its lookups
    recipients: RecipientBook = field(default_factory=RecipientBook)
    # an incoming call, on the worker thread with the session it rang on (clients/calls.py)
    on_call: Callable[[CallOffered, BackendSession], None] | None = None
    preparation: Preparation | None = None  # makes its sends of media, locations, contacts
    session_checks: SessionChecks | None = None  # None: the process's shared one for snapshot_interval
