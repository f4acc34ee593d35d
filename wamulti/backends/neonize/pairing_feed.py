"""Test-only: events pushed into a pairing child as Go would deliver them (no phone offline).

Imported only by a child started with `--test-feed`, which only tests pass (the server never does,
and no setting reaches it). Every event is a real protobuf through the client's own entry point,
so the child's handlers and reports run exactly as they would for whatsmeow's events.
"""

from __future__ import annotations

import ctypes

from ...seams.neonize_internals import show_qr


def _execute(client, event) -> None:
    from neonize.events import EVENT_TO_INT

    data = event.SerializePartialToString()
    buf = ctypes.create_string_buffer(data, len(data))
    client.event.execute(client.uuid, ctypes.addressof(buf), len(data), EVENT_TO_INT[type(event)])


def feed(client, command: dict) -> None:
    """{"feed": "qr", "data"} | {"feed": "pair_success", "user", "server"} | {"feed": "pair_error",
    "error"} | {"feed": "go_fatal"} (a real Go fatal error: get_me() on a client Go never registered)."""
    from neonize.events import PairStatusEv
    from neonize.proto.Neonize_pb2 import JID

    kind = command.get("feed")
    if kind == "qr":
        show_qr(client, str(command["data"]).encode())
    elif kind == "pair_success":
        _execute(client, PairStatusEv(Status=PairStatusEv.SUCCESS,
                                      ID=JID(User=str(command["user"]), Server=str(command["server"]))))
    elif kind == "pair_error":
        _execute(client, PairStatusEv(Status=PairStatusEv.ERROR, Error=str(command["error"])))
    elif kind == "go_fatal":
        import neonize.client as nc

        nc.NewClient(client.name, uuid="never-registered").get_me()
