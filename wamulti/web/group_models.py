"""The models of the group routes (/api/clients/<id>/groups...): paths, queries, bodies, answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..backends.group_api import PARTICIPANT_OUTCOMES, ROLES
from ..errors import InvalidField
from ..fields.group_fields import (DESCRIPTION_MAX, PARTICIPANTS_MAX, SUBJECT_MAX, invite_code, normalize_group_jid,
                                   normalize_participants, validate_description, validate_subject)
from .schemas import Body, ClientId, Params, body_doc, checked

GROUP_EXAMPLE = "120363012345678901@g.us"

GroupJid = Annotated[str, checked(lambda v: normalize_group_jid(v, "group")), Field(
    examples=[GROUP_EXAMPLE], description="A group JID '<id>@g.us'.")]
Subject = Annotated[str, checked(validate_subject), Field(
    min_length=1, max_length=SUBJECT_MAX, examples=["Team Berlin"], description="1-100 characters, not only spaces.")]
Description = Annotated[str, checked(validate_description), Field(
    max_length=DESCRIPTION_MAX, examples=["Orders and shifts"], description="At most 2,048 characters; '' clears it.")]
Participants = Annotated[list[str], checked(normalize_participants, strings_only=False), Field(
    min_length=1, max_length=PARTICIPANTS_MAX, examples=[["+49 151 2345678", "123456789012345@lid"]],
    description="1-256 phone numbers (with country code), '<digits>@s.whatsapp.net' JIDs or '<digits>@lid' ids.")]
InviteLink = Annotated[str, checked(lambda v: invite_code(v, "link")), Field(
    examples=["https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"],
    description="An invite link 'https://chat.whatsapp.com/<code>', or the code alone.")]


def _strict_bool(field: str):
    def check(value):
        if not isinstance(value, bool):
            raise InvalidField(field, f"Field '{field}' must be true or false.")
        return value
    return checked(check, strings_only=False)


def _refresh(value):
    if value not in ("true", "false", True, False):
        raise InvalidField("refresh", "Query parameter 'refresh' must be 'true' or 'false'.")
    return value in ("true", True)


class GroupsPath(Params):
    client_id: ClientId


class GroupPath(Params):
    client_id: ClientId
    group_jid: GroupJid


class RefreshQuery(Params):
    refresh: Annotated[bool, checked(_refresh, strings_only=False)] = Field(
        False, description="true: ask WhatsApp now (paced per client) instead of answering from the cache.")


class CreateGroup(Body):
    model_config = body_doc({"subject": "Team Berlin", "participants": ["+49 151 2345678"]})
    subject: Subject
    participants: Participants


class ChangeParticipants(Body):
    model_config = body_doc({"action": "add", "participants": ["+49 151 2345678"]})
    action: Literal["add", "remove", "promote", "demote"]
    participants: Participants


class UpdateGroup(Body):
    model_config = body_doc({"subject": "Team Berlin (night)", "announce": True},
                            description="At least one of the fields; each is changed with a call of its own.")
    subject: Subject | None = None
    description: Description | None = None
    announce: Annotated[bool, _strict_bool("announce")] | None = Field(None, description="true: only admins send.")
    locked: Annotated[bool, _strict_bool("locked")] | None = Field(None, description="true: only admins edit the info.")

    def changes(self) -> dict:
        """The fields given, in the order they are applied."""
        return {name: getattr(self, name) for name in ("subject", "description", "announce", "locked")
                if getattr(self, name) is not None}


class JoinGroup(Body):
    model_config = body_doc({"link": "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"})
    link: InviteLink


# ---- answers --------------------------------------------------------------------------------------------
class GroupSummaryOut(BaseModel):
    id: str = Field(examples=[GROUP_EXAMPLE])
    subject: str
    size: int = Field(ge=0, description="Members, this account included.")
    announce: bool
    locked: bool
    myRole: Literal[ROLES] | None = Field(description="member, admin or superadmin; null if WhatsApp did not list us.")


class GroupList(BaseModel):
    clientId: str
    groups: list[GroupSummaryOut]
    cachedAt: str | None = Field(description="When the list was last loaded from WhatsApp (events keep it "
                                 "fresh since).")


class ParticipantOut(BaseModel):
    jid: str = Field(examples=["491512345678@s.whatsapp.net", "123456789012345@lid"])
    phone: str | None = Field(examples=["491512345678"], description="Digits, when WhatsApp told them.")
    role: Literal[ROLES]


class GroupOut(GroupSummaryOut):
    description: str
    owner: str | None
    createdAt: str | None
    participants: list[ParticipantOut]


class ParticipantResult(BaseModel):
    jid: str
    result: Literal[PARTICIPANT_OUTCOMES] = Field(description="What happened to this participant.")
    inviteCode: str | None = Field(None, description="needs_invite: the code of a private invitation WhatsApp made.")


class ParticipantResults(BaseModel):
    group: str
    action: str
    results: list[ParticipantResult]


class InviteOut(BaseModel):
    group: str
    link: str = Field(examples=["https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"])


class JoinedOut(BaseModel):
    group: str = Field(examples=[GROUP_EXAMPLE])


class LeftOut(BaseModel):
    group: str
    left: Literal[True]
