"""The `data` of the group events (docs/events.md): pure functions over the book's facts."""

from __future__ import annotations

import re
from typing import Any

_PHONE_JID = re.compile(r"([1-9][0-9]{5,19})(?:[:.][0-9]+)*@(?:s\.whatsapp\.net|c\.us)", re.ASCII)


def digits_of(jid: str | None) -> str | None:
    """The phone number of a phone JID ('4915...@s.whatsapp.net', device suffix allowed); None for
    a privacy id ('@lid'), a group or anything else."""
    found = _PHONE_JID.fullmatch(jid or "")
    return found.group(1) if found else None


def joined_data(summary, reason: str, by: str | None) -> dict[str, Any]:
    """group.joined: the group as the list shows it, and how this account got in."""
    return {"group": summary.group_id, "subject": summary.subject, "size": summary.size,
            "announce": summary.announce, "locked": summary.locked, "myRole": summary.my_role,
            "reason": reason, "by": by}


def left_data(group_id: str, reason: str, by: str | None) -> dict[str, Any]:
    """group.left: `reason` 'left' (this account left) or 'removed' (an admin, `by`, removed it)."""
    return {"group": group_id, "reason": reason, "by": by}


def participants_data(group_id: str, action: str, participants: tuple[str, ...], by: str | None) -> dict[str, Any]:
    """group.participants: `action` added, removed, promoted or demoted; `by` who did it (when told)."""
    return {"group": group_id, "action": action, "participants": list(participants), "by": by}


def updated_data(group_id: str, by: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    """group.updated: only the parts that changed (subject, description, announce, locked)."""
    return {"group": group_id, "by": by, "changes": changes}
