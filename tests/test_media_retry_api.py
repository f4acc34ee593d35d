"""POST /api/media/<mediaId>/retry through the real app, registry and worker (FakeBackend sessions), with
`FakeMediaShelf` as the media store and `ScriptedDownloadSession`'s download as the second attempt."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from tests.conftest import wait_until
from tests.keys_world import World
from tests.download_doubles import FakeMediaShelf, ScriptedDownloadSession
from tests.test_registry_races import ready_client
from tests.test_worker_hearing import RecordingSink
from wamulti.backends.backend_api import Disconnected, Media, MessageReceived
from wamulti.clients.states import CLOSED, READY
from wamulti.hearing.media_intake import MediaIntake, MediaPolicy
from wamulti.store.store_api import ClientRecord

CONTENT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 100


@pytest.fixture
def world(tmp_path, sqlite_store, make_registry, fake_backend):
    """alice READY; its first incoming image failed to download (FakeSession cannot download)."""
    root = tmp_path / "media"
    root.mkdir()
    intake = MediaIntake(FakeMediaShelf(root), sqlite_store, MediaPolicy())
    sink = RecordingSink()
    registry = make_registry(console=False, events=sink, intake=intake)
    ready_client(registry, fake_backend, "alice")
    session = fake_backend.wait_session(1)
    session.emit(MessageReceived(
        message_id="3EB0IMG", chat="491500000001@s.whatsapp.net", sender_jid="491500000001@s.whatsapp.net",
        sender_phone="491500000001", is_group=False, from_me=False, push_name=None, kind="image", text=None,
        sent_at=datetime.now(timezone.utc), media=Media("image/png", len(CONTENT), kind="image", download=b"ref")))
    wait_until(lambda: sink.of_type("message.media"))
    w = World(sqlite_store, registry)
    w.sink, w.session, w.root = sink, session, root
    yield w
    intake.close()


def media_id(world) -> str:
    return world.sink.of_type("message.media")[0]["media"]["id"]


def test_a_failed_download_is_retried_and_stored(world):
    assert world.sink.of_type("message.media")[0]["media"]["status"] == "failed"
    world.session.download = ScriptedDownloadSession(CONTENT).download  # the network is back
    resp = world.call("POST", f"/api/media/{media_id(world)}/retry")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    body = resp.get_json()
    assert (body["status"], body["id"], body["clientId"], body["messageId"], body["kind"]) == (
        "pending", media_id(world), "alice", "3EB0IMG", "image")
    wait_until(lambda: len(world.sink.of_type("message.media")) == 2)
    stored = world.sink.of_type("message.media")[1]["media"]
    assert stored["status"] == "stored" and stored["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert world.call("POST", f"/api/media/{media_id(world)}/retry").status_code == 409  # stored now


def test_a_scoped_key_retries_its_own_clients_media_only(world):
    world.store.create_client(ClientRecord("bob", CLOSED))
    assert world.call("POST", f"/api/media/{media_id(world)}/retry", key=world.new_key("bob")).status_code == 404
    assert world.call("POST", f"/api/media/{media_id(world)}/retry", key=world.new_key("alice")).status_code == 202


def test_a_client_that_is_not_ready_answers_503(world):
    world.session.emit(Disconnected("network"))
    wait_until(lambda: world.registry.get("alice").state != READY)
    resp = world.call("POST", f"/api/media/{media_id(world)}/retry")
    assert resp.status_code == 503 and resp.get_json()["error"] == "client_not_ready"
    assert world.sink.of_type("message.media")[-1]["media"]["status"] == "failed"  # nothing was queued


@pytest.mark.parametrize("path, status", [("/api/media/m_unknown/retry", 404), ("/api/media/a.b/retry", 400)])
def test_unknown_and_malformed_ids(world, path, status):
    resp = world.call("POST", path)
    assert resp.status_code == status and "error" in resp.get_json()
