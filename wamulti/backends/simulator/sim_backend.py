"""An offline stand-in for WhatsApp: same events, same session-file path, no network.

Deterministic given its settings: connecting takes SIM_CONNECT_DELAY, the simulated phone
"enters" a pairing code SIM_PAIR_DELAY after it was issued, and sync takes SIM_SYNC_DELAY.
Pairing follows whatsmeow's QR schedule scaled to SIM_PAIRING_WINDOW: six QR codes, the first
for 3/8 of the window and five more for 1/8 each; then the login socket is gone, a code not yet
entered is dead, and (like the library) nothing is emitted: the worker's own timer closes it.
Its session file is real (JSON with random keys) and goes through the same snapshot and restore
path as neonize's, so restarts are exercised for real.

The sessions of one SimulatorBackend form a loopback network (simnet.py): messages of every kind
between them arrive as MessageReceived (sim_messages.py; an upload is a file in the network's CDN,
sim_cdn.py, and a message carries its key), and the sender gets delivered and read receipts (SIM_READ_DELAY).
Reactions, edits and revokes sent through the queue reach the other side as sim_actions.py's
conversation events; a read mark reaches the messages' sender as a `read` ReceiptReceived.
A send goes out with the message id wamulti chose (like a library that can choose ids), after
`send_delay` seconds, +- `send_jitter` (SIM_SEND_DELAY, default 0.3: like WhatsApp; 0 in most tests). Phone numbers are resolved by the network's
`lookup`, like WhatsApp's "is on WhatsApp?" (SIM_NOT_ON_WHATSAPP lists numbers with no account).
Groups live in the network too (sim_groups.py): `groups()` answers the connected number's group
calls, and a text to a group JID goes to every member but its sender (a group the sender is not in
refuses it, as WhatsApp does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import secrets
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..backend_api import (Backend, BackendSession, Connected, ConnectFailed, DownloadFailed, DownloadTooLarge, EditOut,
                           Event, LoggedOut, Media, MessageReceived, NotConnected, Outgoing, PairingError, PairSuccess,
                           QrUpdated, ReactionOut, ReceiptReceived, RevokeOut, SendFailed, SentMessage, SyncCompleted,
                           TextOut, UploadRef)
from ...randomness import random_bytes
from ..group_api import GroupNotFound
from .sim_actions import SimConversation
from .sim_groups import SimGroupCalls, SimGroupDirectory
from .sim_messages import Origin, received
from .sim_reports import ConnectionReports, parse_address
from .simnet import SimNetwork, number_of

CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
# whatsmeow (qrchan.go, emitQRs): 6 codes, the first shown 60 s, each later one 20 s (160 s)
QR_SHARES = (60 / 160,) + (20 / 160,) * 5


def _urlsafe(count: int) -> str:
    """`count` random bytes as unpadded URL-safe base64 (as secrets.token_urlsafe, from one shared draw)."""
    return base64.urlsafe_b64encode(random_bytes(count)).rstrip(b"=").decode("ascii")


def pairing_code() -> str:
    """A random code 'XXXX-XXXX' from WhatsApp's pairing alphabet."""
    # one read of the system's randomness, not one per character: each read lets go of the GIL, a
    # hand-off that costs more the more threads the process has (bench/README.md, "Capacity");
    # 32 letters divide 256, so every letter is equally likely
    chars = "".join(CODE_ALPHABET[byte % len(CODE_ALPHABET)] for byte in random_bytes(8))
    return f"{chars[:4]}-{chars[4:]}"


def _write_atomically(path: Path, payload: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, path)


class SimulatorSession(SimConversation, BackendSession):
    """One simulated connection; its whole life runs on the connection thread inside connect()."""

    def __init__(self, client_id: str, path: Path, emit: Callable[[Event], None],
                 delays: tuple[float, float, float, float], network: SimNetwork, send_jitter: float = 0.0,
                 pairing_window: float = 160.0, groups: SimGroupDirectory | None = None,
                 reports: ConnectionReports | None = None):
        self._client_id = client_id
        self._path = path
        self._emit = emit
        self._connect_delay, self._pair_delay, self._sync_delay, self._send_delay = delays
        self._send_jitter = send_jitter
        self._network = network
        self._groups = groups or SimGroupDirectory(network)
        self._stop = threading.Event()
        # reentrant: receive() emits under it, and an emit must not deadlock a same-thread send
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._qr_shown = False
        self._pairing_window = pairing_window
        self._window_ends: float | None = None  # monotonic end of the QR window, once it opened
        self._pair_phone: str | None = None
        self._connected = False
        self._number: str | None = None  # the paired phone's digits, once connected
        self._reports = reports  # SIM_REGISTRY's census of connections (None: not told)

    def _load(self) -> dict | None:
        try:
            return json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConnectFailed(f"session file unreadable: {type(exc).__name__}") from None

    def _wait(self, seconds: float) -> bool:
        """Wait up to seconds; False when stopped meanwhile."""
        return not self._stop.wait(seconds)

    def connect(self) -> None:
        if not self._wait(self._connect_delay):
            return
        session = self._load()
        if session is None:
            session = self._pair()
            if session is None:
                return
        number = number_of(session.get("jid", ""))
        with self._lock:
            if self._stop.is_set():
                return
            if number is not None and self._reports is not None:
                self._reports.attached(number)  # before it counts as connected: an overlap is never hidden
            self._connected, self._number = True, number
        self._emit(Connected())
        if number is not None:  # after Connected: what waited offline arrives while syncing
            self._network.attach(number, self, push_name=self._client_id)
        if self._wait(self._sync_delay):
            self._emit(SyncCompleted())
        self._stop.wait()
        self._go_offline()

    def _go_offline(self) -> None:
        with self._lock:
            was, self._connected = self._connected, False
            number = self._number
            if was and number is not None and self._reports is not None:
                self._reports.detached(number)
        if number is not None:
            self._network.detach(number, self)

    def receive(self, event: Event) -> bool:
        """The network's hand-over (network thread): emit while connected, else refuse."""
        with self._lock:  # held while emitting, so nothing is emitted once stop() returned
            if not self._connected:
                return False
            self._emit(event)
            return True

    def _pair(self) -> dict | None:
        """Show QR codes until a phone number is given, then 'enter' the code on the phone."""
        phone = self._show_qr_codes()
        if phone is None or not self._wait(self._pair_delay):
            return None
        if time.monotonic() >= self._window_ends:  # the code died with the login socket
            self._stop.wait()
            return None
        session = {"jid": f"{phone}@s.whatsapp.net", "identity_key": secrets.token_hex(32),
                   "registration_id": secrets.randbelow(1 << 14), "device_uuid": str(uuid.uuid4())}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(self._path, session)
        self._emit(PairSuccess(session["jid"]))
        return session

    def _show_qr_codes(self) -> str | None:
        """Rotate the QR codes of one window; the phone number given meanwhile, or None."""
        with self._wake:
            self._window_ends = time.monotonic() + self._pairing_window
            for share in QR_SHARES:
                if self._pair_phone is not None or self._stop.is_set():
                    break
                self._qr_shown = True
                self._emit(QrUpdated(f"2@{_urlsafe(24)},{_urlsafe(32)},sim"))
                shown_until = time.monotonic() + share * self._pairing_window
                self._wake.wait_for(lambda: self._pair_phone is not None or self._stop.is_set()
                                    or time.monotonic() >= shown_until, share * self._pairing_window)
            phone = self._pair_phone
        if phone is None:
            self._stop.wait()  # the window closed unused: connect() blocks until stop, as neonize's does
        return phone

    def pair_phone(self, phone_digits: str) -> str:
        with self._wake:
            if not self._qr_shown:
                raise PairingError("no QR window open yet")
            if time.monotonic() >= self._window_ends:
                raise PairingError("the QR window has closed")
            self._pair_phone = phone_digits
            self._wake.notify_all()
        return pairing_code()

    def lookup_phone(self, digits: str) -> str | None:
        self._require_connected()
        return self._network.lookup(digits)

    def _require_connected(self) -> str | None:
        """The session's number; raises NotConnected when offline."""
        with self._lock:
            if not self._connected:
                raise NotConnected("websocket not connected")
            return self._number

    def send_text(self, to_jid: str, text: str, message_id: str | None = None) -> SentMessage:
        return self.send_message(to_jid, TextOut(text), message_id)

    def send_message(self, to_jid: str, outgoing: Outgoing, message_id: str | None = None) -> SentMessage:
        self._require_connected()
        delay = max(0.0, self._send_delay + random.uniform(-self._send_jitter, self._send_jitter))
        if delay and not self._wait(delay):
            raise NotConnected("websocket not connected")  # stopped while the send was under way
        number = self._require_connected()
        sent = SentMessage(message_id=message_id or "3EB0" + random_bytes(9).hex().upper(),
                           timestamp=datetime.now(timezone.utc))
        if self._reports is not None:
            self._reports.sent(sent.message_id)  # the census counts a message that went out twice
        command = isinstance(outgoing, TextOut) and self.run_command(to_jid, outgoing.text)  # `/sim ...` (sim_actions.py)
        if isinstance(outgoing, (ReactionOut, EditOut, RevokeOut)):
            self.act_on(to_jid, outgoing, sent.message_id)  # the other side hears it as sim_actions.py says
        elif number is not None and not command:
            sender, phone = self._as_seen_by(number, to_jid)
            origin = Origin(phone, sender, self._client_id)
            self._carry(number, to_jid, received(origin, outgoing, sent.message_id, sent.timestamp))
        return sent

    def _carry(self, number: str, to_jid: str, message: MessageReceived) -> None:
        if not to_jid.endswith("@g.us"):
            self._network.send(number, to_jid, message)
            return
        try:  # a group's members come from the directory: no metadata call (sim_groups.py)
            self._groups.send(number, to_jid, message)
        except GroupNotFound:
            raise SendFailed("not a member of this group") from None

    def groups(self) -> SimGroupCalls:
        """The group calls of the connected number (sim_groups.py); NotConnected while offline."""
        number = self._require_connected()
        if number is None:
            raise NotConnected("websocket not connected")
        return SimGroupCalls(self._groups, number)

    def mark_read(self, chat: str, sender_jid: str, message_ids: tuple[str, ...], at: datetime) -> None:
        """The sender's sessions get a `read` receipt for its messages, from this number's chat (queued
        while they are offline, like a message)."""
        number = self._require_connected()
        if number is not None:
            reader, _ = self._as_seen_by(number, sender_jid)
            receipt = ReceiptReceived(tuple(message_ids), reader, "read", at)
            self._network.send(number, sender_jid, receipt, receipts=False)

    def upload(self, data_path: Path, media_kind: str) -> UploadRef:
        """The file copied to the network's CDN (streamed); its key is the reference every message carries."""
        self._require_connected()
        key = self._network.cdn.put(data_path, uploader=self._client_id)
        digest = hashlib.sha256()
        with self._network.cdn.open(key) as uploaded:
            while chunk := uploaded.read(1 << 20):
                digest.update(chunk)
        return UploadRef(url=f"https://sim-cdn.invalid/{key}", direct_path=key, media_key=secrets.token_bytes(32),
                         file_enc_sha256=digest.digest(), file_sha256=digest.digest(),
                         file_length=data_path.stat().st_size)

    def download(self, media: Media, sink, max_bytes: int) -> int:
        """The file from the network's CDN, streamed into `sink` (a download thread; any session state:
        like WhatsApp's CDN, fetching needs only the reference)."""
        if media.size is not None and media.size > max_bytes:
            raise DownloadTooLarge(media.size, max_bytes)
        try:
            source = self._network.cdn.open((media.download or b"").decode("ascii", "replace"))
        except OSError:
            raise DownloadFailed("the file is not on the simulator's CDN") from None
        written = 0
        with source:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > max_bytes:
                    raise DownloadTooLarge(None, max_bytes)
                sink.write(chunk)
        return written

    def logout(self) -> None:
        with self._lock:
            number = self._number
        if number is None:  # never connected in this process: the number is in the file
            try:
                number = number_of((self._load() or {}).get("jid", ""))
            except ConnectFailed:  # unreadable: nothing on the network to take off
                number = None
        self._path.unlink(missing_ok=True)
        if number is not None:
            self._network.forget(number)
        self._emit(LoggedOut("logged_out"))

    def stop(self) -> None:
        self._stop.set()
        self._go_offline()
        with self._wake:
            self._wake.notify_all()


class SimulatorBackend(Backend):
    name = "simulator"

    def __init__(self, connect_delay: float, pair_delay: float, sync_delay: float, read_delay: float = 1.0,
                 not_on_whatsapp: frozenset[str] = frozenset(), send_delay: float = 0.0, send_jitter: float = 0.0,
                 pairing_window: float = 160.0, registry: str = ""):
        self._reports = ConnectionReports(parse_address(registry)) if registry else None
        self._delays = (connect_delay, pair_delay, sync_delay, send_delay)
        self._send_jitter = send_jitter
        self.pairing_window = pairing_window
        self._network = SimNetwork(read_delay, not_on_whatsapp)  # per backend: tests can run several networks
        self.group_directory = SimGroupDirectory(self._network)  # the network's groups (sim_groups.py)

    @classmethod
    def from_settings(cls, settings) -> "SimulatorBackend":
        return cls(settings.sim_connect_delay, settings.sim_pair_delay, settings.sim_sync_delay,
                   settings.sim_read_delay, frozenset(settings.sim_not_on_whatsapp), settings.sim_send_delay,
                   settings.sim_send_jitter, settings.sim_pairing_window, settings.sim_registry)

    def new_session(self, client_id: str, session_path: Path, emit: Callable[[Event], None]) -> SimulatorSession:
        return SimulatorSession(client_id, session_path, emit, self._delays, self._network, self._send_jitter,
                                self.pairing_window, self.group_directory, self._reports)

    @property
    def network(self) -> SimNetwork:
        """The sessions' network (tests and benchmarks read its CDN's upload counts)."""
        return self._network

    def close(self) -> None:
        self._network.close()
        if self._reports is not None:
            self._reports.close()
