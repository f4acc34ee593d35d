"""The dashboard's request and answer models (its own routes: the session and the overview)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..responses import ClientOut
from ..schemas import Body, body_doc


class SignIn(Body):
    model_config = body_doc({"key": "wam_..."}, description="The admin key or a scoped key; it is not kept.")
    key: str = Field(min_length=1, max_length=512, description="The admin key (API_KEY) or a scoped key.")


class SessionOut(BaseModel):
    """The session as the page sees it; the CSRF token goes in X-CSRF-Token on every change."""

    model_config = ConfigDict(openapi_extra={"headers": {"Set-Cookie": {
        "description": "wamulti_session=<random id>; HttpOnly; SameSite=Strict; Path=/ (Secure over HTTPS).",
        "schema": {"type": "string"}}}})
    signedIn: bool = Field(description="False (and the rest null) when the browser has no live session.")
    role: Literal["admin", "scoped"] | None
    keyId: str | None = Field(description="The scoped key's id (null for the admin key).")
    csrfToken: str | None = Field(description="Send it as X-CSRF-Token with every change made with this session.")
    expiresAt: str | None = Field(description="When the session ends at the latest (ISO 8601 UTC); unused for 8 h "
                                  "it ends sooner.")


class SignedOut(BaseModel):
    signedOut: Literal[True]


class DashboardClient(ClientOut):
    """A client as the dashboard lists it: the client object and its queue and send counts."""

    queueLength: int = Field(ge=0, description="Sends queued or under way.")
    sent: int = Field(ge=0, description="Messages WhatsApp accepted since the process started (/metrics).")
    failed: int = Field(ge=0, description="Sends refused or failed since the process started (/metrics).")


class DashboardSnapshots(BaseModel):
    behind: int
    maxLagSeconds: float


class DashboardBacklog(BaseModel):
    held: int = Field(description="wamulti_webhook_backlog_held")
    pendingClients: int = Field(description="wamulti_webhook_backlog_clients")


class DashboardHealth(BaseModel):
    """Figures of /healthz and /metrics; the process-wide ones (memory, backlog) for the admin key only."""

    storeOk: bool
    store: str
    snapshots: DashboardSnapshots
    webhookBacklog: DashboardBacklog | None = Field(description="Null for a scoped key, or without events.")
    residentMemoryBytes: int | None = Field(description="process_resident_memory_bytes rounded down to whole MiB; "
                                            "null for a scoped key.")


class Overview(BaseModel):
    """Every client the key sees, and health; answered 304 while its ETag is unchanged."""

    model_config = ConfigDict(openapi_extra={"headers": {"ETag": {
        "description": "Changes whenever anything in the body does: send it back in If-None-Match.",
        "schema": {"type": "string"}}}})
    clients: list[DashboardClient]
    health: DashboardHealth
