"""Group calls and group events on neonize 0.5.2, through the library's public client methods.

Each call is one method of neonize's NewClient (create_group, get_joined_groups, get_group_info,
update_group_participants, set_group_name, set_group_topic, set_group_announce, set_group_locked,
get_group_invite_link, join_group_with_link, leave_group), holding the Go lock like a send (GoCalls:
shared, and only while Go looks the client up). Answers are neonize's own protos (GroupInfo,
GroupParticipant, JID), read here into group_api's dataclasses.

- whatsmeow's SetGroupTopic fetches the group's info first when it is not told the description's
  current id: the ids seen in every GroupInfo and GroupInfoEv are remembered here and passed, so a
  description change costs no metadata call once the group was listed.
- update_group_participants answers a participant node per member asked for, with WhatsApp's code
  in `Error` (0: done). PARTICIPANT_CODES names them; a `needs_invite` answer carries the private
  invitation's code (AddRequest).
- Errors come as neonize exceptions carrying whatsmeow's words; `_refusal` sorts them.

Incoming: JoinedGroupEv (this account was added, joined by link, or created a group: Type "new")
and GroupInfoEv (one notification may carry several changes: a GroupInfoChanged for the subject,
description and settings, a GroupParticipantsChanged for each of join, leave, promote, demote).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone

from ..backend_api import Event, NotConnected, SendFailed
from ..group_api import (DONE, GroupCalls, GroupInfo, GroupInfoChanged, GroupJoined, GroupNotFound,
                         GroupParticipantsChanged, InviteInvalid, NotGroupAdmin, Participant, ParticipantOutcome)
from .outgoing import jid_proto, jid_string

# WhatsApp's per-participant codes in an update's answer (the `error` attribute of each participant)
PARTICIPANT_CODES = {403: "needs_invite", 408: "recently_left", 409: "already_in_group", 401: "not_allowed",
                     500: "group_full"}
GROUP_GONE = ("group not found", "not participating", "item-not-found", "status 404")
NOT_ADMIN = ("forbidden", "not-authorized", "unauthorized", "status 403", "status 401")
BAD_INVITE = ("invite link", "status 406", "status 410", "gone")
OFFLINE = ("not connected", "client is nil")


def _jid_or_none(jid) -> str | None:
    return jid_string(jid) if jid.User else None


def participant(p) -> Participant:
    """A neonize GroupParticipant; the phone from PhoneNumber, or from a phone JID itself."""
    phone = p.PhoneNumber.User or (p.JID.User if p.JID.Server == "s.whatsapp.net" else "") or None
    role = "superadmin" if p.IsSuperAdmin else "admin" if p.IsAdmin else "member"
    return Participant(jid_string(p.JID), phone, role)


def group_info(g) -> GroupInfo:
    """A neonize GroupInfo proto as group_api's GroupInfo."""
    created = datetime.fromtimestamp(int(g.GroupCreated), timezone.utc) if g.GroupCreated else None  # float32 seconds
    return GroupInfo(jid_string(g.JID), g.GroupName.Name, g.GroupTopic.Topic, _jid_or_none(g.OwnerJID), created,
                     g.GroupAnnounce.IsAnnounce, g.GroupLocked.isLocked, tuple(participant(p) for p in g.Participants))


def outcome(action: str, code: int) -> str:
    if code in (0, 200):
        return DONE[action]
    if code == 404:
        return "not_on_whatsapp" if action == "add" else "not_in_group"
    return PARTICIPANT_CODES.get(code, "failed")


def outcomes(action: str, asked: list[str], answers) -> list[ParticipantOutcome]:
    """One outcome per participant asked for, in the order asked (an unanswered one failed)."""
    by_jid = {}
    for answer in answers:
        for jid in (answer.JID, answer.PhoneNumber, answer.LID):
            if jid.User:
                by_jid.setdefault(jid_string(jid), answer)
    found = []
    for jid in asked:
        answer = by_jid.get(jid)
        result = "failed" if answer is None else outcome(action, answer.Error)
        code = answer.AddRequest.Code if answer is not None and result == "needs_invite" else None
        found.append(ParticipantOutcome(jid, result, code or None))
    return found


def _refusal(reason: str, *, joining: bool = False) -> Exception:
    """whatsmeow's words as group_api's errors."""
    words = reason.lower()
    if any(w in words for w in OFFLINE):
        return NotConnected(reason)
    if joining and any(w in words for w in BAD_INVITE + GROUP_GONE):
        return InviteInvalid(reason)
    if any(w in words for w in GROUP_GONE):
        return GroupNotFound(reason)
    if any(w in words for w in NOT_ADMIN):
        return NotGroupAdmin(reason)
    return SendFailed(reason)


class NeonizeGroups(GroupCalls):
    """One session's group calls; `guard` is the session's call guard (stopped -> NotConnected)."""

    def __init__(self, client, library_error: type[Exception], guard):
        self._client, self._library_error, self._guard = client, library_error, guard
        self._topic_ids: dict[str, str] = {}  # group -> its description's id (SetGroupTopic needs it)

    @contextlib.contextmanager
    def _call(self, *, joining: bool = False):
        with self._guard():
            try:
                yield
            except self._library_error as exc:
                raise _refusal(str(exc).strip() or type(exc).__name__, joining=joining) from None

    def _read(self, g) -> GroupInfo:
        if g.GroupTopic.TopicID:
            self._topic_ids[jid_string(g.JID)] = g.GroupTopic.TopicID
        return group_info(g)

    def note_topic(self, group_id: str, topic_id: str) -> None:
        """A description's id a GroupInfoEv told (the next description change names it)."""
        if topic_id:
            self._topic_ids[group_id] = topic_id

    def joined_groups(self) -> list[GroupInfo]:
        with self._call():
            return [self._read(g) for g in self._client.get_joined_groups()]

    def group_info(self, group_id: str) -> GroupInfo:
        with self._call():
            return self._read(self._client.get_group_info(jid_proto(group_id)))

    def create_group(self, subject: str, participants: list[str]) -> GroupInfo:
        with self._call():
            return self._read(self._client.create_group(subject, [jid_proto(p) for p in participants]))

    def change_participants(self, group_id: str, action: str, participants: list[str]) -> list[ParticipantOutcome]:
        from neonize.utils.enum import ParticipantChange

        with self._call():
            answers = self._client.update_group_participants(
                jid_proto(group_id), [jid_proto(p) for p in participants], ParticipantChange(action))
        return outcomes(action, participants, answers)

    def set_subject(self, group_id: str, subject: str) -> None:
        with self._call():
            self._client.set_group_name(jid_proto(group_id), subject)

    def set_description(self, group_id: str, description: str) -> None:
        with self._call():
            new_id = self._client.generate_message_id()
            self._client.set_group_topic(jid_proto(group_id), self._topic_ids.get(group_id, ""), new_id, description)
        self._topic_ids[group_id] = new_id

    def set_announce(self, group_id: str, announce: bool) -> None:
        with self._call():
            self._client.set_group_announce(jid_proto(group_id), announce)

    def set_locked(self, group_id: str, locked: bool) -> None:
        with self._call():
            self._client.set_group_locked(jid_proto(group_id), locked)

    def invite_link(self, group_id: str, reset: bool = False) -> str:
        with self._call():
            return self._client.get_group_invite_link(jid_proto(group_id), revoke=reset)

    def join_with_link(self, code: str) -> str:
        with self._call(joining=True):
            return jid_string(self._client.join_group_with_link(code))

    def leave(self, group_id: str) -> None:
        with self._call():
            self._client.leave_group(jid_proto(group_id))


# ---- incoming ------------------------------------------------------------------------------------------
def translate_joined(ev) -> GroupJoined:
    """A JoinedGroupEv: Type 'new' is a group this account created, Reason 'invite' a join by link."""
    reason = "created" if ev.Type == "new" else "invite" if ev.Reason == "invite" else "added"
    return GroupJoined(group_info(ev.GroupInfo), reason, _jid_or_none(ev.Sender))


def translate_group_info(ev) -> list[Event]:
    """A GroupInfoEv as the events it carries, settings first, then join, leave, promote, demote."""
    group_id, by = jid_string(ev.JID), _jid_or_none(ev.Sender)
    changes = {}
    if ev.HasField("Name"):
        changes["subject"] = ev.Name.Name
    if ev.HasField("Topic"):
        changes["description"] = "" if ev.Topic.TopicDeleted else ev.Topic.Topic
    if ev.HasField("Announce"):
        changes["announce"] = ev.Announce.IsAnnounce
    if ev.HasField("Locked"):
        changes["locked"] = ev.Locked.isLocked
    events: list[Event] = [GroupInfoChanged(group_id, by, **changes)] if changes else []
    for action, jids in (("add", ev.Join), ("remove", ev.Leave), ("promote", ev.Promote), ("demote", ev.Demote)):
        if jids:
            events.append(GroupParticipantsChanged(group_id, action, tuple(jid_string(j) for j in jids), by))
    return events
