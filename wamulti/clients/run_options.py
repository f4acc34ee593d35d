"""Options: what every run of one client is given (clients/run.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..backends.backend_api import Backend
from ..sending import preparation
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
    preparation: preparation.Preparation | None = None  # makes its sends of media, locations, contacts
    session_checks: SessionChecks | None = None  # None: the process's shared one for snapshot_interval
