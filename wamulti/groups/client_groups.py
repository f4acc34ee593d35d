"""ClientGroups: one client's group operations as the API asks for them (request threads).

Reads answer from the GroupBook. Metadata reads from WhatsApp (the load after each connect, a
forced refresh, a group's info with `refresh`, an invite link) spend a token of the client's
bucket: METADATA_BURST at once, then one per METADATA_EVERY seconds. WhatsApp answers a client
that asks for group metadata too often with `rate-overlimit` and, repeated, limits the account:
gateways that fetch a group's metadata per message (or per list) are where users report it. With
the cache, a client needs one list call per connect; 20 a minute is far above that and far below
the per-message pattern. Changes (create, participants, settings, join, leave) are not paced here:
each is one request of a caller, and WhatsApp answers for itself.

Backend failures become domain errors: GroupNotFound -> NotFound, NotGroupAdmin -> NotGroupAdmin,
InviteInvalid -> NotFound, NotConnected -> NotReady, others -> Upstream.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable

from ..backends.backend_api import BackendError, NotConnected
from ..backends.group_api import (DONE, GroupCalls, GroupEvent, GroupInfo, GroupInfoChanged, GroupNotFound,
                                  GroupParticipantsChanged, GroupsUnsupported, InviteInvalid, NotGroupAdmin,
                                  ParticipantOutcome)
from ..errors import NotFound, NotReady, Upstream
from ..errors import NotGroupAdmin as NotAdminError
from .group_book import GroupBook, GroupSummary
from .rate_bucket import TokenBucket

log = logging.getLogger(__name__)

METADATA_BURST = 10
METADATA_EVERY = 3.0  # seconds per token once the burst is spent: 20 a minute
LOAD_WAIT = 10.0  # a list waits this long for a load under way, then answers 503 (the load goes on)


class ClientGroups:
    """The group side of one client; any request thread may call it."""

    def __init__(self, client_id: str, book: GroupBook, calls: Callable[[], GroupCalls],
                 bucket: TokenBucket | None = None):
        """`calls()` answers the READY session's group calls, or raises NotReady."""
        self.client_id = client_id
        self.book = book
        self._calls = calls
        self.bucket = bucket or TokenBucket(METADATA_BURST, 1 / METADATA_EVERY)
        self._load_lock = threading.Lock()  # one joined_groups call at a time
        self.metadata_calls = 0  # metadata reads asked of WhatsApp (GET /metrics shows it per client)

    def _ready_calls(self) -> GroupCalls:
        """The READY session's group calls; NotReady (nothing asked), or Upstream for a backend without them."""
        with self._asking():
            return self._calls()

    # ---- what the client hears (Hearing's GroupListener) -----------------------------------------------
    def heard(self, event: GroupEvent) -> list:
        """A group event from WhatsApp (a backend thread): applied to the book; what to publish."""
        return self.book.heard(event)

    def state_changed(self, state: str) -> None:
        """Hearing tells every state change (the worker thread): READY loads the list on a thread of its own."""
        if state == "READY":
            threading.Thread(target=self._load_quietly, name=f"wa-{self.client_id}-groups", daemon=True).start()

    def _load_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # the next list tries again
            log.warning("[%s] loading the groups failed: %s", self.client_id, getattr(exc, "message", exc))

    def refresh(self) -> list[GroupSummary]:
        """One joined_groups call (a token), the book replaced by its answer."""
        with self._load_lock:
            self.bucket.take("list")
            self.book.begin_load()
            groups = None
            try:
                with self._asking(metadata=True):
                    groups = self._ready_calls().joined_groups()
            finally:
                self.book.finish_load(groups)
        log.info("[%s] %d groups loaded", self.client_id, len(groups))
        return self.book.summaries()

    # ---- reads ---------------------------------------------------------------------------------------------
    def list(self, refresh: bool = False) -> list[GroupSummary]:
        """The joined groups from the book; loaded first if it never was (or with `refresh`)."""
        self._ready_calls()  # NotReady before anything else
        if refresh:
            return self.refresh()
        if self.book.loaded_at is None and self._load_lock.acquire(timeout=LOAD_WAIT):
            self._load_lock.release()  # a load under way has finished: use it, or load now
            if self.book.loaded_at is None:
                return self.refresh()
        if self.book.loaded_at is None:
            raise NotReady(f"Client '{self.client_id}' is still loading its groups.", current_state="READY")
        return self.book.summaries()

    def info(self, group_id: str, refresh: bool = False) -> GroupInfo:
        """One joined group with its members; `refresh` asks WhatsApp (a token)."""
        calls = self._ready_calls()
        if not refresh:
            self.list()  # the book is loaded (once per connect)
            return self._known(group_id)
        self.bucket.take("group info")
        with self._asking(group_id, metadata=True):
            group = calls.group_info(group_id)
        self.book.put(group)
        return group

    def _known(self, group_id: str) -> GroupInfo:
        group = self.book.get(group_id)
        if group is None:
            raise self._unknown(group_id)
        return group

    def _unknown(self, group_id: str) -> NotFound:
        return NotFound(f"Client '{self.client_id}' is not in a group '{group_id}'.")

    # ---- changes -------------------------------------------------------------------------------------------
    def create(self, subject: str, participants: list[str]) -> GroupInfo:
        with self._asking():
            group = self._ready_calls().create_group(subject, participants)
        self.book.put(group)
        return group

    def change(self, group_id: str, action: str, participants: list[str]) -> list[ParticipantOutcome]:
        calls = self._ready_calls()
        with self._asking(group_id):
            outcomes = calls.change_participants(group_id, action, participants)
        done = [o.jid for o in outcomes if o.outcome == DONE[action]]
        if done and self.book.get(group_id) is not None:
            self.book.heard(GroupParticipantsChanged(group_id, action, tuple(done)))
        return outcomes

    def update(self, group_id: str, **changes) -> GroupInfo:
        """subject, description, announce, locked (None: unchanged), one call each, in that order; a
        failure stops there (what went before it stays changed, in WhatsApp and in the cache)."""
        calls = self._ready_calls()
        setters = {"subject": calls.set_subject, "description": calls.set_description,
                   "announce": calls.set_announce, "locked": calls.set_locked}
        for name, value in changes.items():
            if value is not None:
                with self._asking(group_id):
                    setters[name](group_id, value)
                self._remember(group_id, name, value)
        return self._known(group_id)

    def _remember(self, group_id: str, name: str, value) -> None:
        if self.book.get(group_id) is not None:
            self.book.heard(GroupInfoChanged(group_id, **{name: value}))

    def invite(self, group_id: str, reset: bool = False) -> str:
        calls = self._ready_calls()
        if not reset:
            self.bucket.take("invite link")
        with self._asking(group_id, metadata=not reset):
            return calls.invite_link(group_id, reset=reset)

    def join(self, code: str) -> str:
        with self._asking():
            return self._ready_calls().join_with_link(code)

    def leave(self, group_id: str) -> None:
        calls = self._ready_calls()
        with self._asking(group_id):
            calls.leave(group_id)
        self.book.drop(group_id)

    @contextlib.contextmanager
    def _asking(self, group_id: str | None = None, metadata: bool = False):
        """A call to WhatsApp (`metadata`: a read the bucket paces, counted): its failures as domain errors."""
        if metadata:
            self.metadata_calls += 1  # rare (paced): a lost increment under a race would only undercount
        try:
            yield
        except GroupNotFound:
            raise self._unknown(group_id or "?") from None
        except NotGroupAdmin as exc:
            raise NotAdminError(f"WhatsApp refused: client '{self.client_id}' is not an admin of the group "
                                f"({exc}).") from None
        except InviteInvalid:
            raise NotFound("The invite link is unknown, was reset, or has expired.") from None
        except NotConnected:
            raise NotReady(f"Client '{self.client_id}' lost its connection; try again shortly.",
                           current_state="CONNECTING") from None
        except GroupsUnsupported:
            raise Upstream("This backend has no group calls.") from None
        except BackendError as exc:
            raise Upstream(f"WhatsApp failed the group call: {exc}") from None
