"""The response models and every error the API answers, for the OpenAPI document.

One place per thing: a success body is one model below; an error status is one line of ERRORS
(its codes, extra members, headers). A route lists its statuses with `responses(...)`; what every
route can answer (401, 500, 503) comes from COMMON, and the body statuses (413, 415) from BODY.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from ..clients.states import State
from ..hearing.event_model import DeliveryState, EventType

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
ALLOW = {"Allow": {"description": "The methods the route accepts.", "schema": {"type": "string"}}}
CURRENT_STATE = (State | None, Field(None, description="The client's state (client_not_ready only)."))


class ErrorSpec:
    """One error status: its stable codes, extra body members and headers."""

    def __init__(self, codes: tuple[str, ...], description: str, headers: dict | None = None, **extra: Any):
        self.codes, self.description, self.headers, self.extra = codes, description, headers or {}, extra


ERRORS: dict[int, ErrorSpec] = {
    400: ErrorSpec(("invalid_request", "destination_not_allowed"), "A field is missing, of the wrong type or out "
                   "of range (the message names it), or the body is not a JSON object; destination_not_allowed: "
                   "a webhook URL points to an address the service does not connect to (the message names the rule)."),
    401: ErrorSpec(("unauthorized",), "The API key is missing, wrong or revoked."),
    403: ErrorSpec(("forbidden", "link_invalid"), "A scoped key on a route that needs the admin key (API_KEY); "
                   "link_invalid: a media link whose signature is wrong or that has expired."),
    404: ErrorSpec(("not_found", "no_picture"), "No such client, event, webhook, media, QR code, API key, group of "
                   "the client or invite link, or no such route (a scoped key sees every client but its own as no "
                   "such client); no_picture: the user or group has no profile picture this account may see."),
    405: ErrorSpec(("method_not_allowed",), "The route does not accept this method.", ALLOW),
    409: ErrorSpec(("conflict", "not_group_admin"), "The request conflicts with the resource's current state; "
                   "not_group_admin: WhatsApp refused a group change because this account is not an admin."),
    410: ErrorSpec(("media_unavailable",), "The linked file was never stored: status (too_large, skipped or "
                   "failed) and reason say why.", status=(str, Field(description="The record's status.")),
                   reason=(str | None, Field(None, description="Why."))),
    413: ErrorSpec(("payload_too_large", "media_too_large"), "The body is larger than MAX_BODY_BYTES, or the file "
                   "larger than MEDIA_MAX_MB (media_too_large; nothing was stored)."),
    415: ErrorSpec(("unsupported_media_type",), "The body is not sent as 'Content-Type: application/json'."),
    422: ErrorSpec(("recipient_not_on_whatsapp", "idempotency_key_reused"), "WhatsApp answered that the "
                   "number has no account, or the Idempotency-Key was used with another body; nothing was sent."),
    429: ErrorSpec(("queue_full", "rate_limited"), "The client's outbound queue is at SEND_QUEUE_MAX, or "
                   "rate_limited: too many group metadata reads for this client (see Retry-After); nothing was "
                   "accepted or asked.",
                   RETRY_AFTER),
    500: ErrorSpec(("internal_error",), "A bug; logged on the server only."),
    502: ErrorSpec(("upstream_error", "media_fetch_failed"), "WhatsApp refused or failed the send, the lookup "
                   "of the number or a group call; media_fetch_failed: a media URL could not be fetched."),
    503: ErrorSpec(("client_not_ready", "store_unavailable", "media_pending", "no_owner"), "The client is not READY "
                   "(currentState says why), the database is unreachable (nothing was changed), a linked file is "
                   "still on its way (media_pending), or (CLUSTER=on) no instance runs the client now (no_owner: a "
                   "failover is under way).", RETRY_AFTER,
                   currentState=CURRENT_STATE),
}
COMMON = (401, 500, 503)  # 503: a scoped key is looked up in the store, on every route behind a key
BODY = (413, 415)


def _error_model(status: int, spec: ErrorSpec) -> type[BaseModel]:
    example = {"error": spec.codes[0], "message": "One sentence that says what to fix."}
    return create_model(
        f"Error{status}",
        __config__=ConfigDict(json_schema_extra={"description": spec.description},
                              openapi_extra={"description": spec.description, "headers": spec.headers,
                                             "example": example}),
        error=(Literal[spec.codes], Field(description="A stable code to branch on.")),
        message=(str, Field(description="One sentence for people.")),
        **spec.extra)


ERROR_MODELS = {status: _error_model(status, spec) for status, spec in ERRORS.items()}


def responses(success: dict, *errors: int) -> dict:
    """A route's responses: its success models and the listed error statuses (COMMON added)."""
    return {**success, **{status: ERROR_MODELS[status] for status in sorted({*errors, *COMMON})}}


class ClientOut(BaseModel):
    """The client object."""

    clientId: str = Field(examples=["work-phone"])
    state: State
    pairingCode: str | None = Field(description="The code to type on the phone while PAIRING with a number.")
    phone: str | None = Field(examples=["491512345678"], description="Digits only.")
    jid: str | None = Field(examples=["491512345678@s.whatsapp.net"])
    lastError: str | None = Field(examples=["connect_failed: timeout"], description="See docs/api.md.")
    updatedAt: str = Field(examples=["2024-05-06T07:08:09.123Z"], description="ISO 8601 UTC, milliseconds.")
    retryAt: str | None = Field(description="While a temporary ban lasts: when the client reconnects by itself.")
    pairingExpiresAt: str | None = Field(description="When the shown code and QR stop working (null when none).")
    snapshotLagSeconds: float = Field(ge=0, description="How long the stored snapshot has been behind the local "
                                      "session file (0: current).")
    lastSnapshotAt: str | None = Field(description="When the store last got or matched the session file.")
    instance: str | None = Field(None, description="CLUSTER=on only: the id of the instance running the client "
                                 "(null: none holds it now, e.g. during a failover). Absent with one instance.")


class CreatedClient(ClientOut):
    model_config = ConfigDict(title="ClientCreated", openapi_extra={
        "description": "Created; pairing has started.",
        "headers": {"Location": {"description": "/api/clients/<id>", "schema": {"type": "string"}}}})


class ClientPage(BaseModel):
    """A page of clients sorted by clientId (with `limit` or `cursor`)."""

    clients: list[ClientOut]
    next: str | None = Field(description="The `cursor` of the following page; null: no more.")


class ClientList(RootModel[list[ClientOut] | ClientPage]):
    """Every client sorted by clientId (an array); with `limit` or `cursor` a page of them."""


class Deleted(BaseModel):
    clientId: str
    deleted: Literal[True]


class ClientDeleted(Deleted):
    unlinked: bool = Field(description="Whether WhatsApp confirmed the device was logged out; false: the phone "
                           "still lists it under Linked devices (message says so).")
    message: str


class Sent(BaseModel):
    success: Literal[True]
    messageId: str = Field(examples=["3EB0C431C26A1916E4C2"], description="wamulti's id, given before sending; "
                           "acks and receipts carry it as messageId.")
    waMessageId: str = Field(examples=["3EB0A1B2C3D4E5F60718"], description="The id WhatsApp's servers know.")
    clientId: str
    to: str = Field(examples=["491512345678@s.whatsapp.net"], description="The JID it was sent to (as "
                    "WhatsApp resolved the number; may be a privacy id '...@lid').")
    timestamp: str | None = Field(examples=["2024-05-06T07:08:09.123Z"])


class Queued(BaseModel):
    model_config = ConfigDict(openapi_extra={
        "description": "Accepted into the client's queue; its outcome is told by GET /api/messages/<messageId> "
                       "and message.ack events.",
        "headers": {"Location": {"description": "/api/messages/<messageId>", "schema": {"type": "string"}}}})

    messageId: str = Field(examples=["3EB0C431C26A1916E4C2AB"])
    clientId: str
    to: str = Field(description="The recipient as accepted ('+<digits>' for a phone number, or a JID).")
    status: Literal["queued", "sending"]


SEND_STATUSES = Literal["queued", "sending", "sent", "server", "delivered", "read", "failed"]


class MessageStatus(BaseModel):
    """Where one send stands."""

    messageId: str
    clientId: str
    to: str
    chat: str | None = Field(description="The JID it goes (went) to, once resolved.")
    status: SEND_STATUSES
    reason: str | None = Field(description="Why it failed (failed only), e.g. 'expired', 'outcome_unknown'.")
    waMessageId: str | None
    attempts: int = Field(ge=0)
    createdAt: str
    updatedAt: str
    sentAt: str | None


class SnapshotSummary(BaseModel):
    behind: int = Field(ge=0, description="Clients whose stored snapshot is behind their local session file.")
    maxLagSeconds: float = Field(ge=0, description="The largest of their lags.")


class Health(BaseModel):
    status: Literal["ok"]
    store: Literal["mysql", "sqlite"]
    clients: int = Field(ge=0)
    snapshots: SnapshotSummary | None = None


class Degraded(BaseModel):
    model_config = ConfigDict(openapi_extra={"description": "The store is unreachable.", "headers": RETRY_AFTER})

    status: Literal["degraded"]
    store: Literal["mysql", "sqlite"]
    clients: int = Field(ge=0)
    snapshots: SnapshotSummary | None = None
    error: Literal["store_unavailable"]
    message: str


class EventOut(BaseModel):
    """An event as a webhook receives it, and how its delivery stands."""

    id: str = Field(examples=["evt_01JD7Q5R2W8X3M9K4T6V0B1N2C"])
    type: EventType
    clientId: str
    timestamp: str = Field(examples=["2026-11-25T10:00:00.123Z"])
    data: dict[str, Any]
    delivery: DeliveryState
    attempts: int = Field(ge=0)
    lastStatus: int | None
    lastError: str | None
    nextAttemptAt: str | None


class EventPage(BaseModel):
    events: list[EventOut]
    next: str | None = Field(description="The cursor (`after`) of the following page; null: no more.")


class WebhookOut(BaseModel):
    clientId: str
    url: str = Field(description="As it is sent (IDNA host, non-ASCII percent-encoded); a password in it "
                     "shows as '****'.")
    events: list[str] = Field(examples=[["*"], ["message", "message.ack"]])
    secret: str = Field(description="Masked ('whsec_****abcd') unless it was generated by this request.")
    updatedAt: str | None


class Replayed(BaseModel):
    clientId: str
    queued: int = Field(ge=0, description="How many events were queued again.")


MEDIA_STATUS = Literal["stored", "pending", "too_large", "skipped", "failed"]


class MediaRetried(BaseModel):
    """An incoming media queued for download again; `message.media` tells how it ends."""

    kind: Literal["image", "video", "audio", "voice", "document", "sticker"]
    mimetype: str | None
    size: int | None = Field(description="Bytes, as the sender declared them until stored.")
    fileName: str | None
    id: str
    sha256: str | None = Field(description="Hex; the sender's declared hash until stored.")
    status: MEDIA_STATUS
    url: str | None = Field(description="The signed link; 503 with Retry-After until the file is stored.")
    reason: str | None
    clientId: str
    messageId: str = Field(description="WhatsApp's id of the message the media came with.")
    chat: str
