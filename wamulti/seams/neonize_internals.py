"""Every place wamulti touches neonize 0.5.2 (pinned) beyond its public API, and why.

neonize offers no public way to see or steer what these do; each line names what it relies on, and
tests/test_seams_neonize.py fails when the pinned version changes any of it.
- `NewClient._NewClient__client`: the ctypes library a client calls Go through. The Go lock stands
  in for it (backends/neonize/gocalls.py) so each Go call holds the lock only while Go reads its maps.
- `ContactStore._ContactStore__client`: the library the contact store calls Go through (the module's
  `gocode`, not the client's): the Go lock stands in for it as well.
- `neonize.client.log_whatsmeow`: the module global connect() hands Go as its log callback. One per
  start, so Go's lines carry their client and show when it registered (golog.py).
- `client.event.execute`: the method connect() hands Go as its event callback; wrapped so a start
  learns when Go calls back (its last map read is over, backends/neonize/starts.py).
- `client._stop_finalizer`: the finalizer that calls Go's Stop(uuid) when the client is collected;
  detached once the client is stopped, so a later collection cannot stop a reused uuid.
- `client.event._qr`: the QR handler Go's callback runs (the test-only pairing feed calls it).
"""

from __future__ import annotations

from typing import Callable

LIBRARY_ATTRIBUTE = "_NewClient__client"  # NewClient.__init__: self.__client = gocode


def go_library(client):
    """The ctypes library (or what stands in for it) this client calls Go through."""
    return getattr(client, LIBRARY_ATTRIBUTE)


def replace_go_library(client, library) -> None:
    """Make this client call Go through `library` from its next call on."""
    setattr(client, LIBRARY_ATTRIBUTE, library)


CONTACT_LIBRARY_ATTRIBUTE = "_ContactStore__client"  # ContactStore.__init__: self.__client = gocode


def replace_contact_library(client, library) -> None:
    """Make this client's contact store call Go through `library` from its next call on."""
    setattr(client.contact, CONTACT_LIBRARY_ATTRIBUTE, library)


def route_go_log(neonize_client_module, callback: Callable[[int, int], None]) -> None:
    """Give the next connect() (any client's) `callback` as Go's log callback; connect() reads the
    module global `log_whatsmeow` as it sets up."""
    neonize_client_module.log_whatsmeow = callback


def before_each_event(client, first: Callable[[], None]) -> None:
    """Run `first()` before each call Go makes into the client's event entry point (connect() reads
    `client.event.execute` for the callback it hands to Go, so call this before connect())."""
    execute = client.event.execute

    def execute_after(uuid, binary, size, code):
        first()
        return execute(uuid, binary, size, code)

    client.event.execute = execute_after


def detach_stop_on_collect(client) -> None:
    """A later garbage collection of this client no longer calls Go's Stop for its uuid."""
    client._stop_finalizer.detach()


def show_qr(client, data: bytes) -> None:
    """Run the QR handler registered with `client.event.qr(...)` as Go's callback would."""
    client.event._qr(client, data)
