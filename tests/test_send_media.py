"""Sending every kind over HTTP, in-process, on the real app, registry, queue and simulator, with the
media store and conversions as named test doubles (tests/media_doubles.py): each kind goes A -> B
and arrives as its kind; one file broadcast to 50 chats is uploaded once; bad combinations are 400
with nothing queued; replies to our ids and WhatsApp's; queued media rows survive a restart."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.conftest import wait_until
from tests.fake_backend import FakePrompter
from tests.media_doubles import FakeConversions, FakeMediaFiles
from tests.test_worker_hearing import RecordingSink
from wamulti.backends.simulator.sim_backend import SimulatorBackend
from wamulti.clients.registry import ClientRegistry
from wamulti.clients.states import READY
from wamulti.config import Settings
from wamulti.errors import InvalidField, NotFound
from wamulti.sending.send_options import SendOptions
from wamulti.sending.media_kit import MediaKit
from wamulti.sending.payloads import MediaChoice, SendRequest, to_payload
from wamulti.sending.sender import new_message_id
from wamulti.store.client_rows import utcnow
from wamulti.store.send_rows import OutboundRow
from wamulti.web.app import create_app

KEY = "media-send-key-0123456789"
ALICE, BOB = "4915111111111", "5511922222222"
BOB_JID = f"{BOB}@s.whatsapp.net"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300


class World:
    """A registry on the simulator with alice and bob READY, the app, the doubles and the event sink."""

    def __init__(self, tmp_path, store, conversions: FakeConversions):
        self.store, self.tmp_path = store, tmp_path
        self.files = FakeMediaFiles(tmp_path / "media")
        self.conversions = conversions
        self.backend = SimulatorBackend(0.01, 0.05, 0.01, read_delay=0.1)
        self.sink = RecordingSink()
        self.registry = self.start_registry()
        for client_id, phone in (("alice", ALICE), ("bob", BOB)):
            self.registry.create(client_id, phone)
        self.wait_ready()
        self.client = create_app(Settings(api_key=KEY), self.registry).test_client()

    def start_registry(self) -> ClientRegistry:
        return ClientRegistry(store=self.store, backend=self.backend, prompter=FakePrompter(),
                              data_dir=self.tmp_path / "d", pairing_timeout=30, events=self.sink,
                              send_options=SendOptions(wait=5), snapshot_interval=0.2,
                              media=MediaKit(self.files, self.conversions))

    def wait_ready(self) -> None:
        wait_until(lambda: [s.state for s in self.registry.list()] == [READY, READY], timeout=10)

    def post(self, body: dict, headers: dict | None = None):
        return self.client.post("/api/messages/send", json={"clientId": "alice", "to": f"+{BOB}", **body},
                                headers={"x-api-key": KEY, **(headers or {})})

    def bob_got(self, count: int = 1) -> list[dict]:
        """The `message` events bob heard from alice, once there are `count`."""
        def heard():
            return [d for c, t, d, _ in self.sink.published if c == "bob" and t == "message"]
        wait_until(lambda: len(heard()) >= count, timeout=10)
        return heard()

    def open_rows(self) -> list[OutboundRow]:
        return self.store.open_sends("alice")

    def close(self) -> None:
        self.registry.stop_all()
        self.backend.close()


@pytest.fixture
def world(tmp_path, sqlite_store):
    made = World(tmp_path, sqlite_store, FakeConversions())
    yield made
    made.close()


def stored(world, data=PNG, client="alice", **kw):
    return world.files.add(data, client, **kw).media_id


@pytest.mark.parametrize("kind, data, mimetype, extra, event_kind, conversions", [
    ("image", PNG, "image/png", {"caption": "Look 👀"}, "image", ["image_facts"]),
    ("video", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "video/mp4", {"caption": "clip"}, "video", ["video_facts"]),
    ("audio", b"ID3" + b"\x00" * 200, "audio/mpeg", {}, "audio", ["audio_seconds"]),
    ("voice", b"RIFF" + b"\x00" * 200, "audio/wav", {}, "voice", ["voice_note"]),
    ("document", PDF, "application/pdf", {"caption": "Invoice", "fileName": "../Invoice 4711.pdf"}, "document", []),
    ("sticker", PNG, "image/png", {}, "sticker", ["sticker"]),
])
def test_each_media_kind_goes_from_a_to_b_as_its_kind(world, kind, data, mimetype, extra, event_kind, conversions):
    media_id = stored(world, data, mimetype=mimetype)
    resp = world.post({"media": {"id": media_id, "kind": kind, **extra}})
    assert resp.status_code == 200, resp.get_json()
    [message] = world.bob_got()
    assert message["kind"] == event_kind and message["id"] == resp.get_json()["waMessageId"]
    assert message["text"] == extra.get("caption")
    expected_type = {"voice": "audio/ogg; codecs=opus", "sticker": "image/webp"}.get(kind, mimetype)
    assert message["media"]["mimetype"] == expected_type
    assert message["media"]["fileName"] == ("Invoice 4711.pdf" if kind == "document" else None)
    sent_size = world.files.get(media_id).size if kind not in ("voice", "sticker") else None
    assert sent_size is None or message["media"]["size"] == sent_size
    assert world.conversions.calls == conversions
    assert world.backend.network.cdn.uploads("alice") == 1


def test_the_bytes_sent_are_the_bytes_in_the_cdn(world):
    media_id = stored(world, PDF, mimetype="application/pdf")
    assert world.post({"media": {"id": media_id, "kind": "document", "fileName": "a.pdf"}}).status_code == 200
    world.bob_got()
    # the simulated upload's key is what bob's Media.download carries; the CDN holds one file of alice's
    [key] = world.backend.network.cdn.keys_of("alice")
    with world.backend.network.cdn.open(key) as uploaded:
        assert hashlib.sha256(uploaded.read()).hexdigest() == hashlib.sha256(PDF).hexdigest()


def test_location_and_contacts_arrive_as_their_kinds(world):
    place = {"lat": 52.5163, "lng": 13.3777, "name": "Brandenburger Tor", "address": "Pariser Platz"}
    assert world.post({"location": place}).status_code == 200
    assert world.post({"contact": {"displayName": "Ada; L.", "phone": "+44 20 7946 0958"}}).status_code == 200
    card = "BEGIN:VCARD\nVERSION:3.0\nFN:Bea\nTEL:+491234567\nEND:VCARD"
    assert world.post({"contact": {"displayName": "Bea", "vcard": card}}).status_code == 200
    place_msg, made, given = world.bob_got(3)
    assert place_msg["kind"] == "location"
    assert place_msg["location"] == {"lat": 52.5163, "lng": 13.3777, "name": "Brandenburger Tor"}
    assert made["kind"] == "contact" and made["contact"]["displayName"] == "Ada; L."
    assert made["contact"]["vcard"] == ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\\; L.\r\nN:;Ada\\; L.;;;\r\n"
                                        "TEL;type=CELL;type=VOICE;waid=442079460958:+442079460958\r\nEND:VCARD\r\n")
    assert given["contact"] == {"displayName": "Bea", "vcard": card}
    assert world.backend.network.cdn.uploads("alice") == 0, "nothing to upload"


def test_a_broadcast_of_one_image_to_50_chats_uploads_it_once(world):
    media_id = stored(world, mimetype="image/png")
    answers = [world.post({"to": f"+4915200000{i:03d}", "media": {"id": media_id, "kind": "image"}, "wait": False})
               for i in range(50)]
    assert {a.status_code for a in answers} == {202}
    ids = [a.get_json()["messageId"] for a in answers]
    wait_until(lambda: all(world.store.get_send(i).state == "server" for i in ids), timeout=20)
    assert world.backend.network.cdn.uploads("alice") == 1
    assert world.conversions.calls == ["image_facts"], "an image's facts are made once too"


@pytest.mark.parametrize("body, field", [
    ({"text": "hi", "media": {"id": "mabc", "kind": "image"}}, "text"),
    ({}, "text"),
    ({"location": {"lat": 1, "lng": 2}, "contact": {"displayName": "A", "phone": "+4915123456789"}}, "text"),
    ({"text": "hi", "caption": "loose"}, "caption"),
    ({"media": {"kind": "image"}}, "media"),
    ({"media": {"id": "mabc", "url": "https://example.com/a.png", "kind": "image"}}, "media"),
    ({"media": {"id": "mabc", "kind": "gif"}}, "media.kind"),
    ({"media": {"id": "mabc", "kind": "voice", "caption": "no"}}, "media.caption"),
    ({"media": {"url": "ftp://example.com/a.png", "kind": "image"}}, "media.url"),
    ({"location": {"lat": 91, "lng": 0}}, "location.lat"),
    ({"location": {"lat": 0, "lng": -180.5}}, "location.lng"),
    ({"location": {"lat": "1", "lng": 0}}, "location.lat"),
    ({"contact": {"displayName": "A"}}, "contact"),
    ({"contact": {"displayName": "A", "vcard": "FN:A"}}, "contact.vcard"),
    ({"contact": {"displayName": "A", "vcard": "BEGIN:VCARD\nFN:" + "x" * 20000 + "\nEND:VCARD"}}, "contact.vcard"),
    ({"contact": {"displayName": "A", "phone": "12"}}, "contact.phone"),
    ({"text": "hi", "replyTo": "not an id!"}, "replyTo"),
])
def test_bad_combinations_are_400_naming_the_field_and_queue_nothing(world, body, field):
    resp = world.post(body)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"] == "invalid_request" and f"'{field}'" in resp.get_json()["message"], resp.get_json()
    assert world.open_rows() == [] and world.files.fetched == []


def test_media_ids_of_another_client_or_unknown_are_404_and_a_url_is_fetched_at_accept(world):
    bobs = stored(world, client="bob")
    for media_id in (bobs, "mnosuchfile"):
        resp = world.post({"media": {"id": media_id, "kind": "image"}})
        assert resp.status_code == 404 and resp.get_json()["error"] == "not_found", resp.get_json()
    pending = stored(world, status="pending")
    assert world.post({"media": {"id": pending, "kind": "image"}}).status_code == 400
    assert world.post({"media": {"url": "https://files.example/gone.png", "kind": "image"}}).status_code == 502
    assert world.open_rows() == []
    world.files.urls["https://files.example/a.png"] = PNG
    resp = world.post({"media": {"url": "https://files.example/a.png", "kind": "image"}, "wait": False})
    assert resp.status_code == 202 and world.files.fetched[-1] == "https://files.example/a.png"
    row = world.store.get_send(resp.get_json()["messageId"])
    assert row.media_id is not None and world.files.get(row.media_id).client_id == "alice"
    assert "url" not in row.payload or '"url":null' in row.payload, "the row sends the stored copy"
    unowned = stored(world, client=None)
    assert world.post({"media": {"id": unowned, "kind": "image"}}).status_code == 200, "an admin key may use it"


def test_replies_to_our_ids_and_whatsapps_and_idempotent_media_sends(world):
    first = world.post({"text": "question?"}).get_json()
    ours = world.post({"text": "answer", "replyTo": first["messageId"]})
    theirs = world.post({"location": {"lat": 1.5, "lng": 2.5}, "replyTo": "ABCDEF0123456789"})
    assert ours.status_code == theirs.status_code == 200
    _, reply, located = world.bob_got(3)
    assert reply["quotedId"] == first["waMessageId"] and located["quotedId"] == "ABCDEF0123456789"
    media_id = stored(world)
    body = {"media": {"id": media_id, "kind": "image", "caption": "one"}}
    a = world.post(body, {"Idempotency-Key": "img-1"})
    b = world.post(body, {"Idempotency-Key": "img-1"})
    assert a.get_json()["messageId"] == b.get_json()["messageId"] and len(world.bob_got(4)) == 4
    changed = world.post({"media": {**body["media"], "caption": "two"}}, {"Idempotency-Key": "img-1"})
    assert changed.status_code == 422, "the key's hash covers the whole payload"


def test_a_failed_conversion_fails_the_send_and_nothing_goes_out(tmp_path, sqlite_store):
    world = World(tmp_path, sqlite_store, FakeConversions(failing=frozenset({"voice_note"})))
    try:
        resp = world.post({"media": {"id": stored(world), "kind": "voice"}})
        assert resp.status_code == 502 and "could not be converted" in resp.get_json()["message"], resp.get_json()
        queued = world.post({"media": {"id": stored(world), "kind": "voice"}, "wait": False}).get_json()
        wait_until(lambda: world.store.get_send(queued["messageId"]).state == "failed")
        assert "voice could not be prepared" in world.store.get_send(queued["messageId"]).reason
        assert world.backend.network.cdn.uploads("alice") == 0
    finally:
        world.close()


def test_queued_media_rows_are_sent_after_a_restart(world):
    media_id = stored(world, mimetype="image/png")
    world.registry.stop_all()
    request = SendRequest(f"+{BOB}", media=MediaChoice("image", media_id, caption="after restart"))
    row, _ = world.store.enqueue_send(OutboundRow(new_message_id(), "alice", f"+{BOB}", "after restart",
                                                  payload=to_payload(request), media_id=media_id),
                                      10, utcnow() - timedelta(days=1))
    assert world.store.media_ids_in_open_sends([media_id]) == {media_id}
    world.registry = world.start_registry()
    world.registry.restore_all(stagger=0.01)
    [message] = world.bob_got()
    assert (message["id"], message["kind"], message["text"]) == (row.message_id, "image", "after restart")
    wait_until(lambda: world.store.media_ids_in_open_sends([media_id]) == set())



def test_media_of_no_client_is_for_admin_keys_only(tmp_path):
    files = FakeMediaFiles(tmp_path / "m")
    kit = MediaKit(files, FakeConversions())
    unowned = files.add(PNG, None).media_id
    request = SendRequest(f"+{BOB}", media=MediaChoice("image", unowned))
    taken, media_id = kit.take_in("alice", request, admin=True)
    assert media_id == unowned and taken.media.media_id == unowned
    with pytest.raises(NotFound):
        kit.take_in("alice", request, admin=False)
    with pytest.raises(InvalidField, match="no media store"):
        MediaKit().take_in("alice", request, admin=True)
    assert MediaKit().take_in("alice", SendRequest("+1", text="hi"), admin=False) == (SendRequest("+1", text="hi"), None)
