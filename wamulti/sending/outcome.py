"""What a send request is answered: the send went out (Sent), failed (a DomainError), or is still on
its way (Accepted: queued or sending, told later by its id), and what a send's row becomes when it
ends. (The request hash that ties an Idempotency-Key to one request is payloads.request_hash.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import DomainError, NotFound, RecipientNotOnWhatsApp, Upstream
from ..store.send_rows import FAILED, GONE_OUT, SERVER, OutboundRow, StateChange
from .sender import Outcome, Sent


@dataclass(frozen=True)
class Accepted:
    """A send accepted into the queue whose outcome is not known yet."""

    message_id: str
    client_id: str
    status: str  # queued or sending
    to: str  # as accepted


def outcome_of_row(row: OutboundRow) -> Sent | DomainError | None:
    """The outcome a finished row tells; None while it is open."""
    if row.state in GONE_OUT:
        sent_at = (row.sent_at or row.updated_at or datetime.now(timezone.utc)).replace(tzinfo=timezone.utc)
        return Sent(row.message_id, row.wa_message_id or row.message_id, row.chat or row.recipient, sent_at)
    if row.state == FAILED:
        code, _, sentence = (row.reason or "").partition(": ")
        if code == "recipient_not_on_whatsapp":
            return RecipientNotOnWhatsApp(sentence or "The recipient's phone number is not on WhatsApp.")
        return Upstream(sentence if code == "upstream_error" else f"The send failed ({row.reason}).")
    return None


def accepted(row: OutboundRow) -> Accepted:
    return Accepted(row.message_id, row.client_id, row.state, row.recipient)


def outcome_change(outcome: Outcome) -> StateChange:
    """The row's change for how its send ended: WhatsApp's answer to a send is its server ack."""
    if isinstance(outcome, Sent):
        return StateChange(SERVER, chat=outcome.to, wa_message_id=outcome.wa_message_id,
                           sent_at=outcome.timestamp.replace(tzinfo=None))
    return StateChange(FAILED, reason=failure_reason(outcome))


def failure_reason(error: DomainError) -> str:
    """The stored reason of a failed send: a code first, then the sentence."""
    if isinstance(error, RecipientNotOnWhatsApp):
        return f"recipient_not_on_whatsapp: {error.message}"
    return f"upstream_error: {error.message}"


def expiry_error(expiry: float) -> DomainError:
    return Upstream(f"Not sent within {expiry:g} seconds of being accepted (expired); nothing was sent.")


def deleted_error(client_id: str) -> DomainError:
    """What a request waiting for a send hears when the client was deleted before the send went out."""
    return NotFound(f"Client '{client_id}' was deleted before this message was sent.")
