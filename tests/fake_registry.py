"""FakeRegistry: a hand-written, in-memory test double of wamulti.clients.registry.ClientRegistry.

It keeps ClientStatus objects in a dict, records every call in `calls`, and raises whatever
exception is put in `fail[method_name]` (StoreUnavailable, Upstream, RuntimeError, ...).
It starts no threads and never talks to a backend or a store.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timezone

from wamulti.sending.sender import Sent
from wamulti.errors import Conflict, InvalidField, NotFound, NotReady
from wamulti.clients.registry import ClientStatus, Unlinked
from wamulti.clients.unlink import LOGGED_OUT, NOT_LINKED

FAKE_PAIRING_CODE = "ABCD-EFGH"
FAKE_TIME = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)


class FakeRegistry:
    """Test double of ClientRegistry with knobs: `fail`, `store_ok`, `console_enabled`, `qr_codes`."""

    def __init__(self, store_kind: str = "sqlite", console_enabled: bool = False):
        self.store_kind = store_kind
        self.console_enabled = console_enabled
        self.store_ok = True
        self.clients: dict[str, ClientStatus] = {}
        self.qr_codes: dict[str, str] = {}
        self.sent: list[tuple[str, str, str]] = []
        self.calls: list[tuple] = []
        self.fail: dict[str, BaseException] = {}
        self._ids = itertools.count(1)

    # ---- helpers for tests -------------------------------------------------------------------
    def add(self, client_id: str, state: str = "READY", **fields) -> ClientStatus:
        """Put a client in the fake as if it existed already."""
        status = ClientStatus(client_id=client_id, state=state, pairing_code=fields.get("pairing_code"),
                              phone=fields.get("phone"), jid=fields.get("jid"),
                              last_error=fields.get("last_error"), updated_at=fields.get("updated_at", FAKE_TIME))
        self.clients[client_id] = status
        return status

    def _enter(self, method: str, *args) -> None:
        self.calls.append((method, *args))
        exc = self.fail.get(method)
        if exc is not None:
            raise exc

    def _status(self, client_id: str) -> ClientStatus:
        try:
            return self.clients[client_id]
        except KeyError:
            raise NotFound(f"No client with id '{client_id}'.") from None

    def _require_phone_or_console(self, phone: str | None) -> None:
        if phone is None and not self.console_enabled:
            raise InvalidField("phone", "Field 'phone' is required: the server's pairing console is disabled.")

    # ---- the ClientRegistry interface --------------------------------------------------------
    def create(self, client_id: str, phone: str | None) -> ClientStatus:
        self._enter("create", client_id, phone)
        if client_id in self.clients:
            raise Conflict(f"A client with id '{client_id}' exists already.")
        self._require_phone_or_console(phone)
        code = FAKE_PAIRING_CODE if phone else None
        return self.add(client_id, "PAIRING", phone=phone, pairing_code=code)

    def list(self) -> list[ClientStatus]:
        self._enter("list")
        return [self.clients[k] for k in sorted(self.clients)]

    def page(self, limit: int, after: str | None = None, state: str | None = None,
             visible=None) -> tuple[list[ClientStatus], str | None]:
        self._enter("page", limit, after, state)
        found = [s for k, s in sorted(self.clients.items()) if (after is None or k > after)
                 and (state is None or s.state == state) and (visible is None or visible(k))]
        return found[:limit], (found[limit - 1].client_id if len(found) > limit else None)

    def get(self, client_id: str) -> ClientStatus:
        self._enter("get", client_id)
        return self._status(client_id)

    def pair(self, client_id: str, phone: str | None) -> ClientStatus:
        self._enter("pair", client_id, phone)
        status = self._status(client_id)
        if status.state in ("SYNCING", "READY"):
            raise Conflict(f"Client '{client_id}' is {status.state} and paired.")
        self._require_phone_or_console(phone)
        status = replace(status, state="PAIRING", phone=phone or status.phone, last_error=None,
                         pairing_code=FAKE_PAIRING_CODE if phone else None)
        self.clients[client_id] = status
        return status

    def qr(self, client_id: str) -> str:
        self._enter("qr", client_id)
        self._status(client_id)
        if client_id not in self.qr_codes:
            raise NotFound(f"Client '{client_id}' has no QR code pending.")
        return self.qr_codes[client_id]

    def delete(self, client_id: str) -> Unlinked:
        self._enter("delete", client_id)
        status = self._status(client_id)
        del self.clients[client_id]
        self.qr_codes.pop(client_id, None)
        return LOGGED_OUT if status.state in ("SYNCING", "READY") else NOT_LINKED

    def while_live(self, client_id: str, action):
        """Run `action` if the client exists (the real one also keeps a pair or delete from running meanwhile)."""
        self._enter("while_live", client_id)
        self._status(client_id)
        return action()

    def send_text(self, client_id: str, to: str, text: str, **options) -> Sent:
        """A '+<digits>' recipient 'resolves' to '<digits>@s.whatsapp.net'; ids are numbered."""
        self._enter("send_text", client_id, to, text)
        status = self._status(client_id)
        if status.state != "READY":
            raise NotReady(f"Client '{client_id}' is {status.state}, not READY.", current_state=status.state)
        self.sent.append((client_id, to, text))
        number = next(self._ids)
        jid = f"{to[1:]}@s.whatsapp.net" if to.startswith("+") else to
        return Sent(f"FAKE{number:06d}", f"WA{number:06d}", jid, FAKE_TIME)

    def queue_length(self, client_id: str) -> int:
        self._enter("queue_length", client_id)
        self._status(client_id)  # NotFound for an unknown client
        return 0  # this double queues nothing: its sends answer at once

    def send_message(self, client_id: str, request, **options) -> Sent:
        """Any kind: recorded as (client, to, request); answered like send_text."""
        self._enter("send_message", client_id, request.to)
        status = self._status(client_id)
        if status.state != "READY":
            raise NotReady(f"Client '{client_id}' is {status.state}, not READY.", current_state=status.state)
        self.sent.append((client_id, request.to, request))
        number = next(self._ids)
        jid = f"{request.to[1:]}@s.whatsapp.net" if request.to.startswith("+") else request.to
        return Sent(f"FAKE{number:06d}", f"WA{number:06d}", jid, FAKE_TIME)

    def retry_media(self, media_id: str, visible=lambda client_id: True) -> dict:
        """No incoming media is known to the fake: every id is unknown."""
        self._enter("retry_media", media_id)
        raise NotFound(f"No media with id '{media_id}'.")

    def message_action(self, client_id: str, request, **options) -> Sent:
        """A reaction, edit, revoke or read: recorded as (client, chat, request); a read has no WhatsApp id."""
        self._enter("message_action", client_id, request.chat)
        status = self._status(client_id)
        if status.state != "READY":
            raise NotReady(f"Client '{client_id}' is {status.state}, not READY.", current_state=status.state)
        self.sent.append((client_id, request.chat, request))
        number = next(self._ids)
        jid = f"{request.chat[1:]}@s.whatsapp.net" if request.chat.startswith("+") else request.chat
        return Sent(f"FAKE{number:06d}", None if request.action == "read" else f"WA{number:06d}", jid, FAKE_TIME)

    def health(self) -> dict:
        self._enter("health")
        return {"store_ok": self.store_ok, "clients": len(self.clients)}
