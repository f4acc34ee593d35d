"""The OpenAPI document's `webhooks` section: what a webhook receives for each event type (docs/events.md).

One entry per EventType: the signed POST's body, `{id, type, clientId, timestamp, data}`, with the
type's `data` below. Answer 2xx to take it; anything else is retried (docs/events.md, retries).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from ..hearing.event_model import OPT_IN_TYPES, EventType

JID = Field(examples=["491512345678@s.whatsapp.net"])


class MessageData(BaseModel):
    id: str
    chat: str = JID
    from_: str | None = Field(alias="from", description="The sender's phone digits when WhatsApp told them.")
    fromJid: str = Field(description="As WhatsApp sent it: may be a privacy id '...@lid' (answerable as `to`).")
    isGroup: bool
    fromMe: bool
    pushName: str | None
    kind: str = Field(examples=["text"])
    text: str | None
    quotedId: str | None
    reaction: dict[str, Any] | None = Field(description="Never set since message.reaction exists (kept null).")
    location: dict[str, Any] | None
    media: MediaData | None
    contact: dict[str, Any] | None
    sentAt: str


class MediaData(BaseModel):
    kind: str = Field(examples=["image"])
    mimetype: str | None
    size: int | None
    fileName: str | None
    id: str | None = Field(description="The media store's id (GET /api/media/<id>).")
    sha256: str | None
    status: Literal["stored", "pending", "too_large", "skipped", "failed"]
    url: str | None = Field(description="A signed link that needs no API key, valid for MEDIA_URL_TTL.")
    reason: str | None


class MessageMediaData(BaseModel):
    messageId: str = Field(description="WhatsApp's id of the message the attachment came with.")
    chat: str = JID
    media: MediaData


class AckData(BaseModel):
    id: str | None
    messageId: str | None
    chat: str
    status: Literal["server", "delivered", "read", "played", "failed"]
    at: str
    reason: str | None = None


class StateData(BaseModel):
    state: str
    previous: str
    lastError: str | None


class _Who(BaseModel):
    chat: str = JID
    from_: str | None = Field(alias="from", description="The actor's phone digits when WhatsApp told them.")
    fromJid: str = Field(description="Who did it, as WhatsApp sent it (may be '...@lid').")
    fromMe: bool = Field(description="One of this account's own devices did it.")


class ReactionData(_Who):
    id: str = Field(description="WhatsApp's id of the reaction itself.")
    emoji: str | None = Field(examples=["👍"], description="null when the reaction was taken back.")
    removed: bool
    targetId: str = Field(description="WhatsApp's id of the message reacted to.")
    targetFromMe: bool = Field(description="The message reacted to is this account's.")
    at: str


class EditedData(_Who):
    targetId: str
    text: str | None = Field(description="The new text (or caption).")
    at: str


class RevokedData(_Who):
    targetId: str
    at: str


class PresenceData(BaseModel):
    jid: str = JID
    phone: str | None
    state: Literal["available", "unavailable", "composing", "recording", "paused"]
    chat: str | None = Field(description="Where composing/recording/paused happens; null for online/offline.")
    lastSeen: str | None


class CallData(BaseModel):
    callId: str
    from_: str | None = Field(alias="from")
    fromJid: str = Field(description="The caller; REJECT_CALLS answers this JID.")
    video: bool
    at: str


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


DATA = {EventType.MESSAGE: MessageData, EventType.MESSAGE_ACK: AckData, EventType.CLIENT_STATE: StateData,
        EventType.MESSAGE_MEDIA: MessageMediaData,
        EventType.MESSAGE_REACTION: ReactionData, EventType.MESSAGE_EDITED: EditedData,
        EventType.MESSAGE_REVOKED: RevokedData, EventType.PRESENCE: PresenceData, EventType.CALL: CallData,
        EventType.GROUP_JOINED: GroupJoinedData, EventType.GROUP_LEFT: GroupLeftData,
        EventType.GROUP_PARTICIPANTS: GroupParticipantsData, EventType.GROUP_UPDATED: GroupUpdatedData}


def _body(type_: EventType) -> type[BaseModel]:
    return create_model(f"{DATA[type_].__name__[:-4]}Event", id=(str, Field(examples=["evt_01JD7Q5R2W8X3M9K4T6V0B1N2C"])),
                        type=(Literal[type_.value], ...), clientId=(str, ...), timestamp=(str, ...),
                        data=(DATA[type_], ...))


def webhooks_section(schemas: dict[str, Any]) -> dict[str, Any]:
    """The `webhooks` map; the models' schemas are added to `schemas` (components)."""
    section = {}
    for type_ in EventType:
        schema = _body(type_).model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        name = schema["title"]
        schemas[name] = schema
        note = " Opt-in: only to webhooks that name it ('*' leaves it out)." if type_ in OPT_IN_TYPES else ""
        section[type_.value] = {"post": {
            "summary": f"A `{type_.value}` event", "description": f"Signed (Standard Webhooks).{note}",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{name}"}}}},
            "responses": {"2XX": {"description": "Taken; anything else is retried."}}}}
    return section
