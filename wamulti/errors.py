"""Domain errors: what went wrong, in the service's own terms.

They know nothing of HTTP. `web/error_handlers.py` is the one place that maps each of them to a status
code, a stable error code and headers (such as Retry-After). Messages are one sentence, safe to show.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors the service raises on purpose; `message` is shown to the caller."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidField(DomainError):
    """A field of the input is missing or malformed; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    """No such client (or no such thing of a client, e.g. no pending QR code)."""


class NoPicture(NotFound):
    """The user or group has no profile picture, or does not show it to this account."""


class NoOwner(DomainError):
    """CLUSTER=on: no instance runs the client right now (a failover is under way), or its owner did not
    answer; a command that needs the client's connection cannot be done now."""


class Conflict(DomainError):
    """The request contradicts the client's current state (exists already, paired and running)."""


class NotReady(DomainError):
    """The client cannot do this in its current state; `current_state` says which."""

    def __init__(self, message: str, current_state: str):
        super().__init__(message)
        self.current_state = current_state


class Upstream(DomainError):
    """WhatsApp refused, failed or did not confirm the request."""


class RecipientNotOnWhatsApp(DomainError):
    """WhatsApp answered that the phone number has no account; nothing was sent."""


class QueueFull(DomainError):
    """The client's outbound queue holds as many sends as it may; nothing was accepted."""

    def __init__(self, client_id: str, depth: int):
        super().__init__(f"Client '{client_id}' has {depth} sends waiting, its queue's limit; nothing was "
                         "accepted: retry later.")
        self.depth = depth


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key seen before with another request body; nothing was sent."""


class DestinationNotAllowed(DomainError):
    """A URL points (or its name resolves) to an address the destination policy refuses; nothing was sent.

    The message names the rule (e.g. 'a private address (RFC 1918)'), never the address a name resolved to.
    """


class RateLimited(DomainError):
    """A call the service paces (group metadata reads per client) came too soon; nothing was asked."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class NotGroupAdmin(DomainError):
    """WhatsApp refused a group change: this account is not an admin of the group."""


class MediaTooLarge(DomainError):
    """A file is larger than the size cap (MEDIA_MAX_MB); nothing of it was kept."""


class MediaFetchFailed(DomainError):
    """A media URL could not be fetched (no answer, an error status, a timeout); nothing was stored."""
