"""A neonize session's groups: the group calls it answers with, and the group events Go reports,
handed over like messages. Mixed into NeonizeSession (neonize_backend.py), which provides `client`,
`_backend`, `_send_call()`, `_hand_over()` and `_groups` (set by `_listen_to_groups` before connect)."""

from __future__ import annotations

from . import outgoing
from .neonize_groups import NeonizeGroups, translate_group_info, translate_joined


class NeonizeGroupEvents:
    """Group calls and group events of one session (see the module's docstring)."""

    def _listen_to_groups(self, on) -> NeonizeGroups:
        """The group calls, and the group events handed over like messages (neonize_groups.py)."""
        from neonize.events import GroupInfoEv, JoinedGroupEv

        on(JoinedGroupEv)(lambda _c, ev: self._hand_over(translate_joined, ev))
        on(GroupInfoEv)(lambda _c, ev: self._on_group_info(ev))
        return NeonizeGroups(self.client, self._backend.library_error, self._send_call)

    def _on_group_info(self, ev) -> None:
        """One GroupInfoEv may carry several changes: each is an event of its own (neonize_groups.py)."""
        self._groups.note_topic(outgoing.jid_string(ev.JID), ev.Topic.TopicID)
        for event in translate_group_info(ev):
            self._hand_over(lambda same: same, event)

    def groups(self) -> NeonizeGroups:
        return self._groups
