"""What a message action sends (worker -> backend): a reaction, an edit or a revoke of a message,
each naming its target as WhatsApp keys it. Part of backend_api's Outgoing (re-exported there)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetKey:
    """The message an action is about, as WhatsApp keys it: its id, its chat, whether this account sent
    it, and (a group message of someone else) who did."""

    message_id: str
    chat: str
    from_me: bool
    participant: str | None = None


@dataclass(frozen=True)
class ReactionOut:
    """An emoji on the target; "" takes this account's reaction back."""

    target: TargetKey
    emoji: str


@dataclass(frozen=True)
class EditOut:
    """The target (a text this account sent) with a new text."""

    target: TargetKey
    text: str


@dataclass(frozen=True)
class RevokeOut:
    """Delete the target for everyone (this account's, or in a group as an admin someone else's)."""

    target: TargetKey


Action = ReactionOut | EditOut | RevokeOut
