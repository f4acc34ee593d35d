"""What a backend offers for groups: the calls, what they answer, and the group events it emits.

Threading contract (an addition to backend_api.py's): `BackendSession.groups()` may be called from
any thread, and the `GroupCalls` it answers run on request threads (and on the group book's loader
thread, wamulti/groups/), never on the worker thread: each is one network round trip that may wait
as long as WhatsApp takes. A backend that has no groups raises GroupsUnsupported from groups().

Group events are emitted like messages (backend_api.py): `emit` only enqueues. WhatsApp tells every
member of a group about a change, the member who made it included, so a backend emits the event
for its own successful calls too, when WhatsApp tells it.

JIDs are strings 'user@server' without a device; a group is '<id>@g.us'; a participant is a phone
JID or a privacy id '...@lid' (then `phone` holds the number when WhatsApp gave it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from .backend_api import BackendError, Event

ROLES = ("member", "admin", "superadmin")
PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
# a participant's outcome of a change: the action's past tense, or why it did not happen to them
PARTICIPANT_OUTCOMES = ("added", "removed", "promoted", "demoted", "not_on_whatsapp", "needs_invite",
                        "not_in_group", "already_in_group", "recently_left", "not_allowed", "group_full", "failed")
DONE = {"add": "added", "remove": "removed", "promote": "promoted", "demote": "demoted"}


@dataclass(frozen=True)
class Participant:
    jid: str
    phone: str | None  # digits, when known
    role: str  # one of ROLES


@dataclass(frozen=True)
class GroupInfo:
    """A group as WhatsApp describes it, with its members."""

    group_id: str
    subject: str
    description: str
    owner: str | None
    created_at: datetime | None  # aware UTC
    announce: bool  # only admins send
    locked: bool  # only admins edit the group's info
    participants: tuple[Participant, ...]


@dataclass(frozen=True)
class ParticipantOutcome:
    jid: str
    outcome: str  # one of PARTICIPANT_OUTCOMES
    invite_code: str | None = None  # needs_invite: the code WhatsApp made for a private invitation


# ---- errors --------------------------------------------------------------------------------------
class GroupsUnsupported(BackendError):
    """This backend has no group calls."""


class GroupNotFound(BackendError):
    """WhatsApp has no such group, or this account is not in it."""


class NotGroupAdmin(BackendError):
    """The change needs a group admin (or WhatsApp refused this account for another reason of rights)."""


class InviteInvalid(BackendError):
    """The invite link is unknown, revoked or expired."""


# ---- events (backend -> worker) ------------------------------------------------------------------
@dataclass(frozen=True)
class GroupEvent(Event):
    """Base of the group events."""


@dataclass(frozen=True)
class GroupJoined(GroupEvent):
    """This account became a member: added by someone (`by`), joined by link, or created the group."""

    group: GroupInfo
    reason: str  # "added", "invite", "created"
    by: str | None = None


@dataclass(frozen=True)
class GroupParticipantsChanged(GroupEvent):
    """Members were added, removed, promoted or demoted (`action` in PARTICIPANT_ACTIONS); this
    account may be among them (a removal of it is its leaving the group)."""

    group_id: str
    action: str
    participants: tuple[str, ...]
    by: str | None = None


@dataclass(frozen=True)
class GroupInfoChanged(GroupEvent):
    """The subject, description or settings changed; None: that part did not."""

    group_id: str
    by: str | None = None
    subject: str | None = None
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None


# ---- calls ---------------------------------------------------------------------------------------
class GroupCalls(ABC):
    """One session's group calls; each raises GroupNotFound, NotGroupAdmin, InviteInvalid,
    NotConnected or SendFailed (backend_api.py) when WhatsApp refuses or does not answer."""

    @abstractmethod
    def joined_groups(self) -> list[GroupInfo]:
        """Every group this account is in, with members: one round trip (a metadata call)."""

    @abstractmethod
    def group_info(self, group_id: str) -> GroupInfo:
        """One group with its members (a metadata call)."""

    @abstractmethod
    def create_group(self, subject: str, participants: list[str]) -> GroupInfo:
        """A new group with this account as its super admin."""

    @abstractmethod
    def change_participants(self, group_id: str, action: str, participants: list[str]) -> list[ParticipantOutcome]:
        """Add, remove, promote or demote; an outcome per participant asked for."""

    @abstractmethod
    def set_subject(self, group_id: str, subject: str) -> None: ...

    @abstractmethod
    def set_description(self, group_id: str, description: str) -> None: ...

    @abstractmethod
    def set_announce(self, group_id: str, announce: bool) -> None: ...

    @abstractmethod
    def set_locked(self, group_id: str, locked: bool) -> None: ...

    @abstractmethod
    def invite_link(self, group_id: str, reset: bool = False) -> str:
        """The group's invite link 'https://chat.whatsapp.com/<code>'; `reset` revokes the old one first."""

    @abstractmethod
    def join_with_link(self, code: str) -> str:
        """Join by an invite code; the group's id."""

    @abstractmethod
    def leave(self, group_id: str) -> None: ...
