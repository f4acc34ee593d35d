"""GroupBook: one client's joined groups in memory, kept fresh by WhatsApp's group events.

Loaded with one `joined_groups` call after each connect (client_groups.py), then changed only by
what WhatsApp tells (group events, group_api.py) and by this client's own successful calls. Lists
answer from here: a summary list is built once per change and handed out as is.

"Me" is the client's phone JID; WhatsApp may name this account by a privacy id (`@lid`) in a
group's members and events, and a member whose phone number is ours teaches the book that id.

A load may be under way while events arrive: the events applied meanwhile are applied again over
the loaded list, so an event is never lost to an answer that was read before it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from ..backends.group_api import (DONE, GroupEvent, GroupInfo, GroupInfoChanged, GroupJoined,
                                  GroupParticipantsChanged, Participant)
from .group_events import digits_of, joined_data, left_data, participants_data, updated_data
from ..hearing.event_model import EventType

ROLE_AFTER = {"promote": "admin", "demote": "member"}

Told = list[tuple[EventType, dict]]


@dataclass(frozen=True)
class GroupSummary:
    """A joined group as the list shows it."""

    group_id: str
    subject: str
    size: int
    announce: bool
    locked: bool
    my_role: str | None  # None: this account is not among the members WhatsApp listed


class GroupBook:
    """Any thread may call it; every method holds the book's lock only for dict work."""

    def __init__(self, own_jid: Callable[[], str | None], clock=time.time):
        self._own_jid = own_jid
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, GroupInfo] = {}
        self._lids: set[str] = set()  # privacy ids WhatsApp showed for our number
        self._summaries: list[GroupSummary] | None = None
        self._loaded_at: float | None = None
        self._during_load: list[GroupEvent] | None = None

    # ---- reads ---------------------------------------------------------------------------------------
    @property
    def loaded_at(self) -> float | None:
        """When the last load finished (epoch seconds); None: never in this process."""
        return self._loaded_at

    def get(self, group_id: str) -> GroupInfo | None:
        with self._lock:
            return self._groups.get(group_id)

    def summaries(self) -> list[GroupSummary]:
        """Every joined group, by subject then id (built once per change)."""
        with self._lock:
            if self._summaries is None:
                self._summaries = sorted((self._summary(g) for g in self._groups.values()),
                                         key=lambda s: (s.subject.casefold(), s.group_id))
            return self._summaries

    def role_of_me(self, group: GroupInfo) -> str | None:
        with self._lock:
            return self._my_role(group)

    # ---- loads -----------------------------------------------------------------------------------------
    def begin_load(self) -> None:
        """A joined_groups call is about to start: remember the events that arrive meanwhile."""
        with self._lock:
            self._during_load = []

    def finish_load(self, groups: list[GroupInfo] | None) -> None:
        """The call answered (None: it failed): the answer, with the events since its start applied over it."""
        with self._lock:
            events, self._during_load = self._during_load or [], None
            if groups is None:
                return
            self._groups = {g.group_id: g for g in groups}
            for group in groups:
                self._learn_lids(group)
            for event in events:
                self._apply(event)
            self._summaries = None
            self._loaded_at = self._clock()

    # ---- our own calls' answers --------------------------------------------------------------------------
    def put(self, group: GroupInfo) -> None:
        with self._lock:
            self._groups[group.group_id] = group
            self._learn_lids(group)
            self._summaries = None

    def drop(self, group_id: str) -> None:
        with self._lock:
            if self._groups.pop(group_id, None) is not None:
                self._summaries = None

    def heard(self, event: GroupEvent) -> Told:
        """Apply what WhatsApp told; the events to publish about it (docs/events.md)."""
        with self._lock:
            if self._during_load is not None:
                self._during_load.append(event)
            told = self._apply(event)
            self._summaries = None
            return told

    # ---- under the lock ------------------------------------------------------------------------------------
    def _apply(self, event: GroupEvent) -> Told:
        match event:
            case GroupJoined(group=group, reason=reason, by=by):
                self._groups[group.group_id] = group
                self._learn_lids(group)
                return [(EventType.GROUP_JOINED, joined_data(self._summary(group), reason, by))]
            case GroupParticipantsChanged():
                return self._participants(event)
            case GroupInfoChanged(group_id=group_id):
                group = self._groups.get(group_id)
                changes = {k: v for k, v in (("subject", event.subject), ("description", event.description),
                                             ("announce", event.announce), ("locked", event.locked)) if v is not None}
                if group is not None:
                    self._groups[group_id] = replace(group, **changes)
                return [(EventType.GROUP_UPDATED, updated_data(group_id, event.by, changes))]
        return []

    def _participants(self, event: GroupParticipantsChanged) -> Told:
        mine = [jid for jid in event.participants if self._is_me(jid)]
        others = tuple(jid for jid in event.participants if jid not in mine)
        told: Told = []
        if others:
            group = self._groups.get(event.group_id)
            if group is not None:
                self._groups[event.group_id] = _changed(group, event.action, others)
            told.append((EventType.GROUP_PARTICIPANTS,
                         participants_data(event.group_id, DONE[event.action], others, event.by)))
        if mine and event.action == "remove":
            self._groups.pop(event.group_id, None)
            reason = "left" if event.by is None or self._is_me(event.by) else "removed"
            told.append((EventType.GROUP_LEFT, left_data(event.group_id, reason, event.by)))
        elif mine:
            group = self._groups.get(event.group_id)
            if group is not None:
                self._groups[event.group_id] = _changed(group, event.action, tuple(mine))
            told.append((EventType.GROUP_PARTICIPANTS,
                         participants_data(event.group_id, DONE[event.action], tuple(mine), event.by)))
        return told

    def _is_me(self, jid: str) -> bool:
        own = self._own_jid()
        return jid in self._lids or (own is not None and digits_of(jid) is not None
                                     and digits_of(jid) == digits_of(own))

    def _learn_lids(self, group: GroupInfo) -> None:
        own = self._own_jid()
        mine = digits_of(own) if own else None
        for person in group.participants:
            if mine is not None and person.phone == mine and person.jid.endswith("@lid"):
                self._lids.add(person.jid)

    def _my_role(self, group: GroupInfo) -> str | None:
        return next((p.role for p in group.participants if self._is_me(p.jid)), None)

    def _summary(self, group: GroupInfo) -> GroupSummary:
        return GroupSummary(group.group_id, group.subject, len(group.participants), group.announce, group.locked,
                            self._my_role(group))


def _changed(group: GroupInfo, action: str, jids: tuple[str, ...]) -> GroupInfo:
    """The group after `action` on these members (an add of a member already there changes nothing)."""
    people = {p.jid: p for p in group.participants}
    for jid in jids:
        if action == "add":
            people.setdefault(jid, Participant(jid, digits_of(jid), "member"))
        elif action == "remove":
            people.pop(jid, None)
        elif jid in people:
            people[jid] = replace(people[jid], role=ROLE_AFTER[action])
    return replace(group, participants=tuple(people.values()))
