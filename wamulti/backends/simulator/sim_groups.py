"""Groups in the simulator's loopback network: creation, membership, roles, settings, invite links.

One `SimGroupDirectory` per network holds every group and its members (phone numbers, most of them
not simulator clients: they are on WhatsApp but reach no one). What WhatsApp tells members, the
directory tells every member that is on the network, through the network thread (SimNetwork.deliver):
a group text to each member but its sender, with `participant` set (receipts come back per member,
naming the group), and the group events of every change, its author included, as WhatsApp does.

`SimGroupCalls` is one session's side (backends/group_api.py). Every metadata call (joined_groups,
group_info) is counted per number in `metadata_calls`, so the benchmark and the tests can show that
sending to a group fetches no metadata. Numbers in `invite_only` refuse to be added directly
(`needs_invite`, like WhatsApp's privacy setting); numbers not on WhatsApp (SIM_NOT_ON_WHATSAPP)
answer `not_on_whatsapp`.
"""

from __future__ import annotations

import collections
import secrets
import string
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from ..backend_api import MessageReceived
from ..group_api import (DONE, GroupCalls, GroupInfo, GroupInfoChanged, GroupJoined, GroupNotFound,
                         GroupParticipantsChanged, InviteInvalid, NotGroupAdmin, Participant, ParticipantOutcome)
from .simnet import SimNetwork, number_of, phone_jid

INVITE_PREFIX = "https://chat.whatsapp.com/"
CODE_CHARS = string.ascii_letters + string.digits  # WhatsApp's invite codes: 22 letters and digits


def invite_code() -> str:
    return "".join(secrets.choice(CODE_CHARS) for _ in range(22))
ROLE_AFTER = {"promote": "admin", "demote": "member"}


@dataclass
class _Group:
    group_id: str
    subject: str
    owner: str
    created_at: datetime
    members: dict[str, str]  # number -> role
    description: str = ""
    announce: bool = False
    locked: bool = False
    invite: str = field(default_factory=invite_code)

    def info(self) -> GroupInfo:
        people = tuple(Participant(phone_jid(n), n, role) for n, role in self.members.items())
        return GroupInfo(self.group_id, self.subject, self.description, phone_jid(self.owner), self.created_at,
                         self.announce, self.locked, people)


class SimGroupDirectory:
    """Every group of one simulator network; any thread may call it."""

    def __init__(self, network: SimNetwork):
        self._network = network
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}
        self._by_code: dict[str, str] = {}
        self.invite_only: set[str] = set()
        self.metadata_calls: collections.Counter[str] = collections.Counter()

    # ---- what tests and the benchmark set up ----------------------------------------------------------
    def create(self, owner: str, subject: str, numbers: list[str]) -> GroupInfo:
        """A group owned by `owner` (a super admin) with these members; each member on the network
        hears GroupJoined."""
        group_id = f"120363{secrets.randbelow(10**12):012d}@g.us"
        members = {owner: "superadmin", **{n: "member" for n in numbers if n != owner}}
        group = _Group(group_id, subject, owner, datetime.now(timezone.utc).replace(microsecond=0), members)
        with self._lock:
            self._groups[group_id] = group
            self._by_code[group.invite] = group_id
            info = group.info()
        self._network.deliver([owner], GroupJoined(info, "created", phone_jid(owner)))
        self._network.deliver(list(members)[1:], GroupJoined(info, "added", phone_jid(owner)))
        return info

    def _group(self, group_id: str, number: str, *, admin: bool = False) -> _Group:
        """The group as `number` may see it (under the lock)."""
        group = self._groups.get(group_id)
        if group is None or number not in group.members:
            raise GroupNotFound(f"not a member of {group_id}")
        if admin and group.members[number] == "member":
            raise NotGroupAdmin("only group admins may do this")
        return group

    def info(self, number: str, group_id: str | None = None) -> list[GroupInfo]:
        """One group, or every group of `number` (a metadata call, counted)."""
        with self._lock:
            self.metadata_calls[number] += 1
            if group_id is not None:
                return [self._group(group_id, number).info()]
            return [g.info() for g in self._groups.values() if number in g.members]

    # ---- sending ---------------------------------------------------------------------------------------
    def send(self, sender: str, group_id: str, message: MessageReceived) -> None:
        """A text to every member but the sender, as a group message from the sender (no metadata call)."""
        with self._lock:
            members = list(self._group(group_id, sender).members)
        event = replace(message, chat=group_id, is_group=True)
        self._network.deliver(members, event, reply_to=sender, receipt_chat=group_id)

    def _tell(self, group: _Group, event) -> None:
        """A change, told to every member (called under the lock; the network delivers later)."""
        self._network.deliver(list(group.members), event)

    # ---- changes ---------------------------------------------------------------------------------------
    def change(self, number: str, group_id: str, action: str, jids: list[str]) -> list[ParticipantOutcome]:
        with self._lock:
            group = self._group(group_id, number, admin=True)
            outcomes = [ParticipantOutcome(jid, self._change_one(group, action, jid)) for jid in jids]
            done = tuple(o.jid for o in outcomes if o.outcome == DONE[action])
            info = group.info()
            if done:  # the members added hear GroupJoined instead
                told = [m for m in group.members if action != "add" or phone_jid(m) not in done]
                self._network.deliver(told, GroupParticipantsChanged(group_id, action, done, phone_jid(number)))
            if done and action == "remove":
                self._network.deliver([number_of(j) for j in done],
                                      GroupParticipantsChanged(group_id, action, done, phone_jid(number)))
        if done and action == "add":
            self._network.deliver([number_of(j) for j in done], GroupJoined(info, "added", phone_jid(number)))
        return [o if o.outcome != "needs_invite" else ParticipantOutcome(o.jid, o.outcome, group.invite)
                for o in outcomes]

    def _change_one(self, group: _Group, action: str, jid: str) -> str:
        member = number_of(jid)
        if member is None or self._network.lookup(member) is None:
            return "not_on_whatsapp"
        if action == "add":
            if member in group.members:
                return "already_in_group"
            if member in self.invite_only:
                return "needs_invite"
            group.members[member] = "member"
        elif member not in group.members:
            return "not_in_group"
        elif action == "remove":
            del group.members[member]
        else:
            group.members[member] = ROLE_AFTER[action]
        return DONE[action]

    def update(self, number: str, group_id: str, **changes) -> None:
        """subject, description, announce or locked; an admin's call once the group is locked
        (subject, description) or always (announce, locked), as in WhatsApp."""
        with self._lock:
            group = self._group(group_id, number)
            settings = "announce" in changes or "locked" in changes
            if (settings or group.locked) and group.members[number] == "member":
                raise NotGroupAdmin("only group admins may do this")
            for name, value in changes.items():
                setattr(group, name, value)
            self._tell(group, GroupInfoChanged(group_id, phone_jid(number), **changes))

    def invite(self, number: str, group_id: str, reset: bool) -> str:
        with self._lock:
            group = self._group(group_id, number, admin=True)
            if reset:
                self._by_code.pop(group.invite, None)
                group.invite = invite_code()
                self._by_code[group.invite] = group_id
            return INVITE_PREFIX + group.invite

    def join(self, number: str, code: str) -> str:
        with self._lock:
            group = self._groups.get(self._by_code.get(code, ""))
            if group is None:
                raise InviteInvalid("the invite link is unknown or was reset")
            if number not in group.members:
                group.members[number] = "member"
                self._tell(group, GroupParticipantsChanged(group.group_id, "add", (phone_jid(number),),
                                                           phone_jid(number)))
            info = group.info()
        self._network.deliver([number], GroupJoined(info, "invite", phone_jid(number)))
        return group.group_id

    def leave(self, number: str, group_id: str) -> None:
        with self._lock:
            group = self._group(group_id, number)
            self._tell(group, GroupParticipantsChanged(group_id, "remove", (phone_jid(number),), phone_jid(number)))
            del group.members[number]


class SimGroupCalls(GroupCalls):
    """One connected simulator session's group calls (backends/group_api.py)."""

    def __init__(self, directory: SimGroupDirectory, number: str):
        self._directory, self._number = directory, number

    def joined_groups(self) -> list[GroupInfo]:
        return self._directory.info(self._number)

    def group_info(self, group_id: str) -> GroupInfo:
        return self._directory.info(self._number, group_id)[0]

    def create_group(self, subject: str, participants: list[str]) -> GroupInfo:
        numbers = [n for n in map(number_of, participants) if n is not None]
        return self._directory.create(self._number, subject, numbers)

    def change_participants(self, group_id: str, action: str, participants: list[str]) -> list[ParticipantOutcome]:
        return self._directory.change(self._number, group_id, action, participants)

    def set_subject(self, group_id: str, subject: str) -> None:
        self._directory.update(self._number, group_id, subject=subject)

    def set_description(self, group_id: str, description: str) -> None:
        self._directory.update(self._number, group_id, description=description)

    def set_announce(self, group_id: str, announce: bool) -> None:
        self._directory.update(self._number, group_id, announce=announce)

    def set_locked(self, group_id: str, locked: bool) -> None:
        self._directory.update(self._number, group_id, locked=locked)

    def invite_link(self, group_id: str, reset: bool = False) -> str:
        return self._directory.invite(self._number, group_id, reset)

    def join_with_link(self, code: str) -> str:
        return self._directory.join(self._number, code)

    def leave(self, group_id: str) -> None:
        self._directory.leave(self._number, group_id)
