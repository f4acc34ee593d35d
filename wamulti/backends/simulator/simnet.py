"""The simulator's loopback network: simulator clients in one process text each other.

A text from A to B's phone number (or JID) arrives at B as MessageReceived; A then gets
ReceiptReceived "delivered" at once and "read" SIM_READ_DELAY seconds later (B "reads" every
message). A number that no simulator client has been connected with in this process is not on
the network: a text to it goes nowhere and gets no receipt.

Offline recipients, like WhatsApp's offline queue: what is addressed to a known number while none
of its sessions is connected (a message for B, a receipt for A) waits in memory, in order, and is
handed over when a session of that number connects; the receipts to the sender follow from then.
The queue holds at most MAX_QUEUED items per number (the oldest go first) and is lost with the
process. Logging out takes the number off the network and drops its queue.

"Is this number on WhatsApp?" (`lookup`), answered like WhatsApp would: a number listed as not on
WhatsApp (SIM_NOT_ON_WHATSAPP) has no account; a number of a client on the network is itself; a
number whose other mobile form is on the network is that form (`other_forms`: Brazil's 9th digit,
Mexico's '1' and Argentina's '9' after the country code), so a text to the other form reaches the
account; any other number is taken to be on WhatsApp as given (it reaches no one).

Privacy ids, like WhatsApp's LIDs: every number on the network also has a LID (`lid_of`, a stable
15-digit id unrelated to the number), and a message, action or call addressed to '<lid>@lid' reaches
that number (sim_actions.py says who then appears as whom). Momentary things (presence) reach only
connected sessions and are never queued. `peers` are the numbers a number exchanged messages with:
its contacts, the ones that see its online/offline presence.

Threads: one network thread per network hands everything over, in the order it was posted, so a
send never runs B's handlers on A's thread and never waits for B. Sessions are called under no
network lock, and a session that went offline refuses the hand-over, which puts the item back.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

from ..backend_api import Event, ReceiptReceived
from .sim_cdn import SimCdn

MAX_QUEUED = 1000
PHONE_SERVERS = ("", "s.whatsapp.net", "c.us")
LID_SERVER = "lid"


class Endpoint(Protocol):
    def receive(self, event: Event) -> bool:
        """Emit the event if connected and return True; return False when offline."""


@dataclass(frozen=True)
class _Parcel:
    event: Event
    reply_to: str | None = None  # the sender's number, for a message: it gets the receipts
    receipt_chat: str | None = None  # the chat the receipts name (a group's id); None: the recipient


def number_of(jid: str) -> str | None:
    """The phone digits a user JID or number addresses ('4915...@s.whatsapp.net', '+4915...'); None else."""
    user, _, server = jid.strip().partition("@")
    user = user.split(":")[0].split(".")[0].lstrip("+")  # device and agent suffixes
    return user if server in PHONE_SERVERS and user.isascii() and user.isdigit() else None


def phone_jid(number: str) -> str:
    return f"{number}@{PHONE_SERVERS[1]}"


def lid_of(number: str) -> str:
    """The number's privacy id on the simulated network (stable across runs, unrelated to the digits)."""
    return str(10**14 + int.from_bytes(hashlib.sha256(f"lid:{number}".encode()).digest()[:8], "big") % (9 * 10**14))


def lid_jid(number: str) -> str:
    return f"{lid_of(number)}@{LID_SERVER}"


def other_forms(digits: str) -> list[str]:
    """The other ways a mobile number is written: Brazil 55+AA+8 digits <-> 55+AA+9+8 digits,
    Mexico 52+1+10 digits <-> 52+10 digits, Argentina 54+9+10 digits <-> 54+10 digits."""
    cc, rest = digits[:2], digits[2:]
    forms = []
    if cc == "55" and len(rest) == 10:
        forms.append(f"55{rest[:2]}9{rest[2:]}")
    if cc == "55" and len(rest) == 11 and rest[2] == "9":
        forms.append(f"55{rest[:2]}{rest[3:]}")
    for country, mark in (("52", "1"), ("54", "9")):
        if cc == country and len(rest) == 10:
            forms.append(f"{country}{mark}{rest}")
        if cc == country and len(rest) == 11 and rest[0] == mark:
            forms.append(f"{country}{rest[1:]}")
    return forms


class SimNetwork:
    """The numbers of the process's simulator sessions, their queues, and the thread that delivers."""

    def __init__(self, read_delay: float, not_on_whatsapp: frozenset[str] = frozenset()):
        self._read_delay = read_delay
        self._not_on_whatsapp = not_on_whatsapp
        self._cond = threading.Condition()
        self._online: dict[str, list[Endpoint]] = {}
        self._queues: dict[str, deque[_Parcel]] = {}  # one per known number, connected or not
        self._lids: dict[str, str] = {}  # LID -> number, for every known number
        self._peers: dict[str, set[str]] = {}  # number -> the numbers it exchanged messages with
        self._names: dict[str, str] = {}  # number -> the push name its sessions go by
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.cdn = SimCdn()  # what the sessions upload; a message carries its key

    # ---- sessions (any thread) ----------------------------------------------------------------
    def attach(self, number: str, endpoint: Endpoint, push_name: str | None = None) -> None:
        """A session of number connected: it gets what waited for the number, then live traffic."""
        with self._cond:
            self._queues.setdefault(number, deque(maxlen=MAX_QUEUED))
            self._lids[lid_of(number)] = number
            if push_name:
                self._names[number] = push_name
            self._online.setdefault(number, []).append(endpoint)
        self._schedule(0.0, lambda: self._flush(number))

    def detach(self, number: str, endpoint: Endpoint) -> None:
        """The session went offline (idempotent); the number stays on the network."""
        with self._cond:
            endpoints = self._online.get(number, [])
            if endpoint in endpoints:
                endpoints.remove(endpoint)

    def forget(self, number: str) -> None:
        """The number logged out: off the network, its queue dropped."""
        with self._cond:
            self._queues.pop(number, None)
            self._online.pop(number, None)
            self._lids.pop(lid_of(number), None)

    def resolve(self, jid: str) -> str | None:
        """The number a phone JID or a '<lid>@lid' names when it is on the network, else None."""
        user, _, server = jid.strip().partition("@")
        with self._cond:
            number = self._lids.get(user) if server == LID_SERVER else number_of(jid)
            return number if number in self._queues else None

    def send(self, sender: str, to_jid: str, message: Event, receipts: bool = True) -> None:
        """Carry a text (or an action on one: receipts=False) from sender to the number to_jid names
        (a phone JID or its LID); nothing when it is not on the network."""
        recipient = self.resolve(to_jid)
        if recipient is None or recipient == sender:
            return  # groups and notes to self are not simulated
        with self._cond:
            self._peers.setdefault(sender, set()).add(recipient)
            self._peers.setdefault(recipient, set()).add(sender)
        parcel = _Parcel(message, reply_to=sender if receipts else None)
        self._schedule(0.0, lambda: self._post(recipient, parcel))

    def deliver(self, numbers, event: Event, reply_to: str | None = None, receipt_chat: str | None = None) -> None:
        """Carry one event to each of these numbers that is on the network (a group's fan-out, its
        notifications); with `reply_to`, each recipient's receipts go back to that number."""
        with self._cond:
            known = [number for number in numbers if number in self._queues and number != reply_to]
        for number in known:
            parcel = _Parcel(event, reply_to=reply_to, receipt_chat=receipt_chat)
            self._schedule(0.0, lambda number=number, parcel=parcel: self._post(number, parcel))

    def signal(self, numbers: list[str], event: Event) -> None:
        """Hand a momentary event (presence) to the sessions of these numbers connected now; never
        queued. Who is connected is read here, not on the network thread: a session that connects
        after the signal (later, when the thread runs behind) must not get it."""
        with self._cond:
            endpoints = [endpoint for number in numbers for endpoint in self._online.get(number, ())]

        def hand_over():
            for endpoint in endpoints:
                endpoint.receive(event)
        self._schedule(0.0, hand_over)

    def peers(self, number: str) -> dict[str, str | None]:
        """The numbers this one exchanged messages with, and their push names."""
        with self._cond:
            return {peer: self._names.get(peer) for peer in self._peers.get(number, ())}

    def knows(self, number: str, other: str) -> bool:
        """Whether number has other among its peers (WhatsApp then tells it other's phone number)."""
        with self._cond:
            return other in self._peers.get(number, ())

    def lookup(self, digits: str) -> str | None:
        """The JID WhatsApp would answer for the number, None when it is not on WhatsApp."""
        if digits in self._not_on_whatsapp:
            return None
        with self._cond:
            known = [n for n in (digits, *other_forms(digits)) if n in self._queues]
        return phone_jid(known[0] if known else digits)

    def close(self) -> None:
        """Stop the network thread; what is queued or scheduled is dropped."""
        with self._cond:
            self._closed = True
            self._due.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2)
        self.cdn.close()

    # ---- the network thread -------------------------------------------------------------------
    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), action))
            if self._thread is None:  # started on first use: idle networks cost no thread
                self._thread = threading.Thread(target=self._run, name="sim-network", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _next_action(self) -> Callable[[], None] | None:
        with self._cond:
            while not self._closed:
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self._due)[2]
                self._cond.wait(wait)
            return None

    def _run(self) -> None:
        while (action := self._next_action()) is not None:
            action()

    def _post(self, number: str, parcel: _Parcel) -> None:
        """Hand the parcel over now, or queue it behind what already waits for the number."""
        with self._cond:
            queue = self._queues.get(number)
            if queue is None:
                return  # logged out meanwhile
            endpoints = list(self._online.get(number, ()))
            if queue or not endpoints:
                queue.append(parcel)
                return
        if not self._hand_over(number, parcel, endpoints):
            self._requeue(number, parcel)

    def _flush(self, number: str) -> None:
        while True:
            with self._cond:
                queue = self._queues.get(number)
                endpoints = list(self._online.get(number, ()))
                if not queue or not endpoints:
                    return
                parcel = queue.popleft()
            if not self._hand_over(number, parcel, endpoints):
                self._requeue(number, parcel)
                return

    def _requeue(self, number: str, parcel: _Parcel) -> None:
        with self._cond:
            queue = self._queues.get(number)
            if queue is not None:
                queue.appendleft(parcel)

    def _hand_over(self, number: str, parcel: _Parcel, endpoints: list[Endpoint]) -> bool:
        """Give the event to every connected session of the number (linked devices all get it)."""
        taken = [endpoint.receive(parcel.event) for endpoint in endpoints]
        if not any(taken):
            return False
        if parcel.reply_to is not None:
            self._receipts(number, parcel)
        return True

    def _receipts(self, recipient: str, parcel: _Parcel) -> None:
        message_id, sender = parcel.event.message_id, parcel.reply_to
        now = datetime.now(timezone.utc)
        chat = parcel.receipt_chat or phone_jid(recipient)
        delivered = ReceiptReceived((message_id,), chat, "delivered", now)
        read = ReceiptReceived((message_id,), chat, "read", now + timedelta(seconds=self._read_delay))
        self._post(sender, _Parcel(delivered))
        self._schedule(self._read_delay, lambda: self._post(sender, _Parcel(read)))
