"""The OpenAPI document's `webhooks`: what wamulti POSTs to a webhook, one entry per event type with a
documented `data` (docs/events.md has every type). Added to the served document by openapi_document.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..hearing.event_model import EventType

GROUP = Field(examples=["120363012345678901@g.us"], description="The group's JID.")
BY = Field(description="Who did it (a phone JID or '@lid'), when WhatsApp said.")


class GroupJoinedData(BaseModel):
    group: str = GROUP
    subject: str
    size: int = Field(ge=0)
    announce: bool
    locked: bool
    myRole: Literal["member", "admin", "superadmin"] | None
    reason: Literal["added", "invite", "created"]
    by: str | None = BY


class GroupLeftData(BaseModel):
    group: str = GROUP
    reason: Literal["left", "removed"] = Field(description="left: this account left; removed: an admin removed it.")
    by: str | None = BY


class GroupParticipantsData(BaseModel):
    group: str = GROUP
    action: Literal["added", "removed", "promoted", "demoted"]
    participants: list[str] = Field(description="Phone JIDs or '@lid' ids.")
    by: str | None = BY


class GroupChanges(BaseModel):
    subject: str | None = None
    description: str | None = Field(None, description="'' when it was removed.")
    announce: bool | None = Field(None, description="true: only admins send.")
    locked: bool | None = Field(None, description="true: only admins edit the group's info.")


class GroupUpdatedData(BaseModel):
    group: str = GROUP
    by: str | None = BY
    changes: GroupChanges = Field(description="Only what changed.")


DATA = {EventType.GROUP_JOINED: (GroupJoinedData, "This account joined a group (added, by link, or created it)."),
        EventType.GROUP_LEFT: (GroupLeftData, "This account left a group or was removed from it."),
        EventType.GROUP_PARTICIPANTS: (GroupParticipantsData, "Members were added, removed, promoted or demoted."),
        EventType.GROUP_UPDATED: (GroupUpdatedData, "A group's subject, description or settings changed.")}


def add_webhooks(document: dict[str, Any]) -> None:
    """Each event type with a documented `data` as an OpenAPI 3.1 webhook, its schemas in components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    document["webhooks"] = {}
    for event_type, (model, summary) in DATA.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        envelope = {"type": "object", "required": ["id", "type", "clientId", "timestamp", "data"], "properties": {
            "id": {"type": "string", "examples": ["evt_01JD7Q5R2W8X3M9K4T6V0B1N2C"]},
            "type": {"const": str(event_type)}, "clientId": {"type": "string"},
            "timestamp": {"type": "string", "examples": ["2026-12-07T10:00:00.123Z"]},
            "data": {"$ref": f"#/components/schemas/{model.__name__}"}}}
        document["webhooks"][str(event_type)] = {"post": {
            "summary": summary, "description": "Signed (Standard Webhooks headers), delivered in order per "
            "client, retried until a 2xx (docs/events.md).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": envelope}}},
            "responses": {"200": {"description": "Any 2xx marks the event delivered."}}}}
