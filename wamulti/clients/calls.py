"""Incoming calls: REJECT_CALLS=on declines each through the library, and REJECT_CALLS_MESSAGE (if set)
answers the caller with a text through the client's normal send queue (ordered, retried, acked).

Runs on the worker thread (the `call` event was published before, on the backend's thread). A
failed reject or reply is logged, never raised: the call rings out on its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from ..backends.backend_api import BackendError, BackendSession
from ..backends.conversation_api import CallOffered
from ..errors import DomainError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallPolicy:
    """What a client does with an incoming call (REJECT_CALLS, REJECT_CALLS_MESSAGE)."""

    reject: bool = False
    message: str | None = None


def answer_call(client_id: str, policy: CallPolicy, call: CallOffered, session: BackendSession,
                queue_text: Callable[[str, str], object]) -> None:
    """Reject the call if the policy says so, then queue the reply text to the caller's JID."""
    if not policy.reject:
        return
    try:
        session.reject_call(call.caller, call.call_id)
    except BackendError as exc:
        log.warning("[%s] call %s not rejected: %s", client_id, call.call_id, exc)
    if policy.message:
        try:
            queue_text(call.caller, policy.message)
        except DomainError as exc:
            log.warning("[%s] reply to call %s not queued: %s", client_id, call.call_id, exc.message)
