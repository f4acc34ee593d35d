"""Contract of wamulti/seams/neonize_internals.py: what it touches in neonize is still there, shaped as used."""

from __future__ import annotations

import ctypes
import inspect
import weakref

import pytest

from tests.seams_pins import assert_installed_as_pinned
from wamulti.seams import neonize_internals as seam

neonize_client = pytest.importorskip("neonize.client")
from neonize.events import EVENT_TO_INT, PairStatusEv  # noqa: E402
from neonize.proto.Neonize_pb2 import JID  # noqa: E402


@pytest.fixture
def client(tmp_path):
    """A real NewClient, never connected (no Go entry)."""
    client = neonize_client.NewClient(str(tmp_path / "seam.session"), uuid="seams-contract")
    yield client
    seam.detach_stop_on_collect(client)


def go_event(client, event) -> None:
    """Call the client's event entry point as Go does."""
    data = event.SerializePartialToString()
    buf = ctypes.create_string_buffer(data, len(data))
    client.event.execute(client.uuid, ctypes.addressof(buf), len(data), EVENT_TO_INT[type(event)])


def test_the_pinned_neonize_is_installed():
    assert_installed_as_pinned("neonize")


def test_a_client_calls_go_through_the_library_attribute(client):
    library = seam.go_library(client)
    assert library is neonize_client.gocode and callable(library.Neonize) and callable(library.Stop)

    class Recording:
        def __init__(self):
            self.names = []

        def __getattr__(self, name):
            self.names.append(name)
            return lambda *args: True

    stand_in = Recording()
    seam.replace_go_library(client, stand_in)
    assert client.is_connected is True and stand_in.names == ["IsConnected"]
    seam.replace_go_library(client, library)


def test_the_contact_store_calls_go_through_its_own_library_attribute(client):
    """Not through the client's: the Go lock must be put in front of it separately."""
    assert getattr(client.contact, seam.CONTACT_LIBRARY_ATTRIBUTE) is neonize_client.gocode
    names = []

    class Recording:
        def __getattr__(self, name):
            names.append(name)
            return lambda *args: b""  # an empty answer: no contacts, no error

    seam.replace_contact_library(client, Recording())
    assert list(client.contact.get_all_contacts()) == [] and names == ["GetAllContacts"]


def test_connect_reads_the_log_callback_and_the_event_entry_point_as_it_starts():
    names = neonize_client.NewClient.connect_with_proxy.__code__.co_names
    assert {"log_whatsmeow", "event", "execute", "func_callback_bytes2"} <= set(names)
    assert callable(neonize_client.log_whatsmeow)
    assert list(inspect.signature(neonize_client.log_whatsmeow).parameters) == ["binary", "size"]


def test_route_go_log_sets_the_global_connect_reads():
    original = neonize_client.log_whatsmeow
    routed = lambda binary, size: None  # noqa: E731
    seam.route_go_log(neonize_client, routed)
    try:
        assert neonize_client.log_whatsmeow is routed
    finally:
        seam.route_go_log(neonize_client, original)


def test_before_each_event_runs_first_and_then_the_handler(client):
    assert list(inspect.signature(client.event.execute).parameters) == ["uuid", "binary", "size", "code"]
    order = []
    client.event(PairStatusEv)(lambda _c, ev: order.append(("handler", ev.ID.User)))
    seam.before_each_event(client, lambda: order.append("first"))
    go_event(client, PairStatusEv(Status=PairStatusEv.SUCCESS, ID=JID(User="4915100", Server="s.whatsapp.net")))
    assert order == ["first", ("handler", "4915100")]


def test_the_stop_finalizer_is_a_live_weakref_finalize_until_detached(tmp_path):
    client = neonize_client.NewClient(str(tmp_path / "finalizer.session"), uuid="seams-finalizer")
    finalizer = client._stop_finalizer
    assert isinstance(finalizer, weakref.finalize) and finalizer.alive
    seam.detach_stop_on_collect(client)
    assert not finalizer.alive, "a collection of the client no longer calls Stop"


def test_show_qr_runs_the_handler_registered_with_event_qr(client):
    shown = []
    client.event.qr(lambda c, data: shown.append((c, data)))
    seam.show_qr(client, b"2@qr-data")
    assert shown == [(client, b"2@qr-data")]
