"""Routes under /api/clients/<id>/groups: the joined groups (from the client's cache), one group,
creating, members, settings, invite links, joining and leaving (wamulti/groups/client_groups.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from flask_openapi3 import APIBlueprint, Tag

from ..auth import SECURITY, check_api_key, client_scoped
from ..error_handlers import BadRequest
from ..group_models import (ChangeParticipants, CreateGroup, GroupList, GroupOut, GroupPath, GroupsPath, InviteOut,
                            JoinedOut, JoinGroup, LeftOut, ParticipantResults, RefreshQuery, UpdateGroup)
from ..json_body import iso_utc
from ..registry_port import registry
from ..responses import BODY, responses

bp = APIBlueprint("groups", __name__, url_prefix="/api/clients", abp_tags=[Tag(name="groups")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)

GROUP = "/<client_id>/groups/<group_jid>"
CALLS = (400, 404, 502, 503)  # every route that asks WhatsApp


def summary_json(summary) -> dict:
    return {"id": summary.group_id, "subject": summary.subject, "size": summary.size,
            "announce": summary.announce, "locked": summary.locked, "myRole": summary.my_role}


def group_json(groups, group) -> dict:
    """One group with its members, as GET .../groups/<jid> answers it."""
    people = [{"jid": p.jid, "phone": p.phone, "role": p.role} for p in group.participants]
    return {"id": group.group_id, "subject": group.subject, "size": len(people), "announce": group.announce,
            "locked": group.locked, "myRole": groups.book.role_of_me(group), "description": group.description,
            "owner": group.owner, "createdAt": iso_utc(group.created_at), "participants": people}


@bp.get("/<client_id>/groups", operation_id="listGroups", responses=responses({200: GroupList}, 400, 404, 429, 502))
@client_scoped
def list_groups(path: GroupsPath, query: RefreshQuery):
    """The client's joined groups from its cache (loaded once per connect, kept by WhatsApp's group events);
    `refresh=true` asks WhatsApp now (paced: 429 `rate_limited` with Retry-After when too often)."""
    groups = registry().groups(path.client_id)
    listed = groups.list(refresh=query.refresh)
    at = groups.book.loaded_at
    return {"clientId": path.client_id, "groups": [summary_json(s) for s in listed],
            "cachedAt": iso_utc(datetime.fromtimestamp(at, timezone.utc)) if at else None}


@bp.post("/<client_id>/groups", operation_id="createGroup",
         responses=responses({201: GroupOut}, *CALLS, *BODY))
@client_scoped
def create_group(path: GroupsPath, body: CreateGroup):
    """Create a group with this client as its super admin; 201 with the group (members WhatsApp added)."""
    groups = registry().groups(path.client_id)
    group = groups.create(body.subject, body.participants)
    return group_json(groups, group), 201, {"Location": f"/api/clients/{path.client_id}/groups/{group.group_id}"}


@bp.post("/<client_id>/groups/join", operation_id="joinGroup", responses=responses({200: JoinedOut}, *CALLS, *BODY))
@client_scoped
def join_group(path: GroupsPath, body: JoinGroup):
    """Join a group by its invite link (404: the link is unknown, reset or expired)."""
    return {"group": registry().groups(path.client_id).join(body.link)}


@bp.get(GROUP, operation_id="getGroup", responses=responses({200: GroupOut}, 400, 404, 429, 502))
@client_scoped
def get_group(path: GroupPath, query: RefreshQuery):
    """One joined group with its members and their roles, from the cache; `refresh=true` asks WhatsApp (paced)."""
    groups = registry().groups(path.client_id)
    return group_json(groups, groups.info(path.group_jid, refresh=query.refresh))


@bp.patch(GROUP, operation_id="updateGroup", responses=responses({200: GroupOut}, *CALLS, 409, *BODY))
@client_scoped
def update_group(path: GroupPath, body: UpdateGroup):
    """Change the subject, description, `announce` (only admins send) or `locked` (only admins edit)."""
    changes = body.changes()
    if not changes:
        raise BadRequest("Give at least one of 'subject', 'description', 'announce' or 'locked'.")
    groups = registry().groups(path.client_id)
    groups.info(path.group_jid)  # 404 for a group the client is not in, before any call
    return group_json(groups, groups.update(path.group_jid, **changes))


@bp.post(f"{GROUP}/participants", operation_id="changeGroupParticipants",
         responses=responses({200: ParticipantResults}, *CALLS, 409, *BODY))
@client_scoped
def change_participants(path: GroupPath, body: ChangeParticipants):
    """Add, remove, promote or demote; one result per participant (added, needs_invite, not_on_whatsapp, ...)."""
    groups = registry().groups(path.client_id)
    groups.info(path.group_jid)
    outcomes = groups.change(path.group_jid, body.action, body.participants)
    return {"group": path.group_jid, "action": body.action,
            "results": [{"jid": o.jid, "result": o.outcome, "inviteCode": o.invite_code} for o in outcomes]}


@bp.get(f"{GROUP}/invite", operation_id="getGroupInvite",
        responses=responses({200: InviteOut}, *CALLS, 409, 429))
@client_scoped
def get_invite(path: GroupPath):
    """The group's invite link (admins only; paced like the other metadata reads)."""
    groups = registry().groups(path.client_id)
    groups.info(path.group_jid)
    return {"group": path.group_jid, "link": groups.invite(path.group_jid)}


@bp.delete(f"{GROUP}/invite", operation_id="resetGroupInvite", responses=responses({200: InviteOut}, *CALLS, 409))
@client_scoped
def reset_invite(path: GroupPath):
    """Revoke the invite link; answers the new one."""
    groups = registry().groups(path.client_id)
    groups.info(path.group_jid)
    return {"group": path.group_jid, "link": groups.invite(path.group_jid, reset=True)}


@bp.post(f"{GROUP}/leave", operation_id="leaveGroup", responses=responses({200: LeftOut}, *CALLS))
@client_scoped
def leave_group(path: GroupPath):
    """Leave the group (it drops out of the list at once; `group.left` follows)."""
    groups = registry().groups(path.client_id)
    groups.info(path.group_jid)
    groups.leave(path.group_jid)
    return {"group": path.group_jid, "left": True}
