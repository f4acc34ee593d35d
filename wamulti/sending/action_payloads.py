"""A message action as the outbound queue keeps it: react, edit, revoke or read, stored as the row's
payload JSON (`{"action": ...}`) in the line of the chat it acts in, so an action queued right after
a send waits for that send (sending/action_sends.py resolves it when its turn comes).

`message_id` is wamulti's id of a send of this client, or WhatsApp's id of any message; `participant`
who wrote a group message (someone else's); `message_ids` what a read mark names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

ACTIONS = ("react", "edit", "revoke", "read")


@dataclass(frozen=True)
class ActionRequest:
    action: str  # one of ACTIONS
    chat: str  # as the caller gave it: a JID or '+<digits>'
    message_id: str  # the target (react, edit, revoke; a read's `upTo`)
    emoji: str | None = None  # react ("" takes the reaction back)
    text: str | None = None  # edit
    participant: str | None = None  # who wrote the target in a group
    from_me: bool | None = None  # react on a message this account sent from another device
    message_ids: tuple[str, ...] = ()  # read: the messages read (else message_id: up to it)
    senders: tuple[tuple[str, str], ...] = ()  # read, filled at accept time: (message id, its sender)

    @property
    def body(self) -> str:
        """The row's `body`: the emoji or the new text ("" for a revoke or a read)."""
        return self.emoji if self.action == "react" else (self.text or "")

    @property
    def read_ids(self) -> tuple[str, ...]:
        return self.message_ids or (self.message_id,)


def action_hash(client_id: str, request: ActionRequest) -> str:
    """The Idempotency-Key hash of an action: its whole meaning, canonical."""
    canonical = json.dumps([client_id, "action", asdict(request)], ensure_ascii=True, separators=(",", ":"),
                           sort_keys=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def action_payload(request: ActionRequest) -> str:
    return json.dumps(asdict(request), ensure_ascii=False, separators=(",", ":"))


def action_of(payload: str | None) -> ActionRequest | None:
    """The action a row's payload holds; None for a send (a plain text or another kind)."""
    if payload is None or not payload.startswith('{"action":'):  # asdict keeps the field order
        return None
    data = json.loads(payload)
    data["message_ids"] = tuple(data.get("message_ids") or ())
    data["senders"] = tuple(tuple(pair) for pair in data.get("senders") or ())
    return ActionRequest(**data)
