"""End to end, every part real: `python wsgi.py` on the simulator with the real media store (a
directory, and S3 on a moto server; SQLite, and MariaDB once), the real conversions (ffmpeg,
Pillow), the simulator's CDN, and a real webhook receiver on 127.0.0.1. What alice sends arrives at
bob's webhook as its kind; bob's signed link (no API key) returns the very bytes alice uploaded, or
503 + Retry-After while they are on their way, never a part of them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from PIL import Image

from tests.media_samples import ffprobe, lavfi, make_audio, make_video
from tests.s3_server import moto_endpoint, objects, s3_env  # noqa: F401 (fixtures)
from tests.server_process import ServerProcess
from tests.webhook_receiver import Receiver
from wamulti.hearing.event_fields import new_secret

ALICE, BOB = "+49 151 0000 0001", "+49 151 0000 0002"


class MediaWorld:
    """A server (alice and bob READY on its simulator), its webhook receiver, and the simulator CDN's
    directory (the server's TMPDIR), whose files are alice's uploads."""

    def __init__(self, tmp_path: Path, **env):
        self.tmp = tmp_path
        self.receiver = Receiver(new_secret())
        self.early: dict[str, tuple[int, str | None, bytes]] = {}  # media id -> a fetch the instant `message` came
        self.receiver.answer("/hook", self._fetch_at_once)
        (tmp_path / "tmp").mkdir(exist_ok=True)
        self.server = ServerProcess(tmp_path / "data", {
            "WEBHOOK_URL": self.receiver.url("/hook"), "WEBHOOK_SECRET": self.receiver.secret,
            "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8", "SIM_READ_DELAY": "0.2", "TMPDIR": str(tmp_path / "tmp"),
            "SEND_WAIT": "120",  # a conversion on this shared machine may take longer than the default 10 s
            **env})
        self.server.env["PUBLIC_URL"] = f"http://127.0.0.1:{self.server.port}"
        self.server.start()
        for client_id, phone in (("alice", ALICE), ("bob", BOB)):
            assert self.server.request("POST", "/api/clients", {"clientId": client_id, "phone": phone}).status == 201
        self.server.wait_all_ready(2, timeout=30)

    def close(self) -> None:
        self.server.close()
        self.receiver.close()

    def _fetch_at_once(self, hit) -> int:
        """The receiver fetches a `message`'s media link the moment the event arrives (the earliest a
        consumer can)."""
        media = hit.event.get("data", {}).get("media") if hit.event.get("type") == "message" else None
        if media and media.get("url") and media["id"] not in self.early:
            answer = self.fetch(media["url"])
            self.early[media["id"]] = (answer.status, answer.headers.get("retry-after"), answer.body)
        return 200

    def upload(self, data: bytes, file_name: str, client_id: str = "alice") -> dict:
        resp = self.server.request("POST", f"/api/media?fileName={quote(file_name)}&clientId={client_id}", data,
                                   headers={"Content-Type": "application/octet-stream"})
        assert resp.status == 201, resp
        return resp.json

    def send(self, body: dict, to: str = BOB, status: int = 200) -> dict:
        resp = self.server.request("POST", "/api/messages/send", {"clientId": "alice", "to": to, **body}, timeout=150)
        assert resp.status == status, resp
        return resp.json

    def heard(self, type_: str, message_id: str, client_id: str = "bob", timeout: float = 30.0) -> dict:
        """The `data` of bob's first event of `type_` about `message_id` (waiting for it)."""
        def found():
            for hit in self.receiver.attempts(client_id):
                data = hit.event.get("data", {})
                if hit.event.get("type") == type_ and message_id in (data.get("id"), data.get("messageId")):
                    return data
            return None
        return self.receiver.wait_for(found, timeout, f"bob's {type_} of {message_id}")

    def fetch(self, url: str, key=None):
        """A media link as a receiver fetches it: no API key."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == self.server.env["PUBLIC_URL"], "links are PUBLIC_URL based"
        return self.server.request("GET", f"{parts.path}?{parts.query}", key=key)

    def stored_bytes(self, data: dict) -> bytes:
        """What bob's `message.media` link returns (its media stored, its sha256 matching)."""
        media = data["media"]
        assert media["status"] == "stored", media
        answer = self.fetch(media["url"])
        assert answer.status == 200 and answer.headers["content-disposition"].startswith("attachment"), answer
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert hashlib.sha256(answer.body).hexdigest() == media["sha256"]
        return answer.body

    def cdn_files(self) -> list[Path]:
        """The simulator CDN's files: every upload any client made, oldest first."""
        return sorted((p for p in (self.tmp / "tmp").glob("wamulti-sim-cdn-*/*")), key=lambda p: p.stat().st_mtime_ns)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    made = MediaWorld(tmp_path_factory.mktemp("media-e2e"), MEDIA_DOWNLOAD_CONCURRENCY="1")
    yield made
    made.close()


def document_goes_a_to_b(world: MediaWorld, data: bytes, name: str) -> tuple[dict, dict, dict]:
    """alice uploads and sends `data` as a document; bob's `message` and `message.media`, and the upload."""
    uploaded = world.upload(data, name)
    sent = world.send({"media": {"id": uploaded["mediaId"], "kind": "document", "caption": name}})
    message = world.heard("message", sent["waMessageId"])
    assert message["kind"] == "document" and message["text"] == name and message["media"]["fileName"] == name
    assert message["media"]["status"] in ("pending", "stored") and message["media"]["url"]
    outcome = world.heard("message.media", sent["waMessageId"])
    assert outcome["media"]["id"] == message["media"]["id"], "the follow-up names the same record"
    return uploaded, message, outcome


def test_a_document_arrives_as_the_same_bytes_and_an_early_fetch_is_told_to_retry(world):
    big = b"%PDF-1.4\n" + os.urandom(40 << 20)  # ahead in the one download slot: the next one waits
    small = b"%PDF-1.4\n" + os.urandom(300_000)
    first = world.upload(big, "big.pdf")
    world.send({"media": {"id": first["mediaId"], "kind": "document"}})
    uploaded, message, outcome = document_goes_a_to_b(world, small, "Q3 report.pdf")
    assert world.stored_bytes(outcome) == small
    assert outcome["media"]["sha256"] == uploaded["sha256"] == hashlib.sha256(small).hexdigest()
    status, retry_after, body = world.early[message["media"]["id"]]
    assert (status, retry_after) == (503, "5"), "fetched while still on its way"
    assert json.loads(body)["error"] == "media_pending", "an error body, never a part of the file"
    assert world.fetch(outcome["media"]["url"].replace("sig=", "sig=x")).status == 403


def test_a_voice_note_from_an_mp3_arrives_as_ogg_opus(world, tmp_path):
    mp3 = make_audio(tmp_path)["burst.mp3"].read_bytes()
    sent = world.send({"media": {"id": world.upload(mp3, "hello.mp3")["mediaId"], "kind": "voice"}})
    message = world.heard("message", sent["waMessageId"])
    assert message["kind"] == "voice" and message["media"]["mimetype"] == "audio/ogg; codecs=opus"
    received = tmp_path / "received.ogg"
    outcome = world.heard("message.media", sent["waMessageId"])
    assert outcome["media"]["mimetype"] == "audio/ogg; codecs=opus", "sniffed audio/ogg, with the sender's codec"
    received.write_bytes(world.stored_bytes(outcome))
    probed = ffprobe(received)
    [stream] = probed["streams"]
    assert probed["format"]["format_name"] == "ogg" and stream["codec_name"] == "opus" and stream["channels"] == 1
    assert 5.5 < float(probed["format"]["duration"]) < 6.5


def test_an_image_a_video_and_an_audio_arrive_as_their_kinds_and_bytes(world, tmp_path):
    """Sent as they are (their facts and thumbnails made on the way): bob stores the very bytes."""
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 90, 30)).save(photo, "JPEG")
    files = {"image": (photo.getvalue(), "p.jpg"), "video": (make_video(tmp_path).read_bytes(), "clip.mp4"),
             "audio": (make_audio(tmp_path)["burst.m4a"].read_bytes(), "song.m4a")}
    for kind, (data, name) in files.items():
        sent = world.send({"media": {"id": world.upload(data, name)["mediaId"], "kind": kind}})
        message = world.heard("message", sent["waMessageId"])
        assert message["kind"] == kind and message["media"]["size"] == len(data), kind
        assert world.stored_bytes(world.heard("message.media", sent["waMessageId"])) == data, kind


def test_a_sticker_arrives_as_a_512_square_webp(world):
    png = io.BytesIO()
    Image.new("RGBA", (300, 120), (250, 40, 40, 255)).save(png, "PNG")
    sent = world.send({"media": {"id": world.upload(png.getvalue(), "s.png")["mediaId"], "kind": "sticker"}})
    assert world.heard("message", sent["waMessageId"])["kind"] == "sticker"
    webp = Image.open(io.BytesIO(world.stored_bytes(world.heard("message.media", sent["waMessageId"]))))
    assert (webp.format, webp.size) == ("WEBP", (512, 512))


def test_location_contact_and_replies_arrive_as_their_kinds(world):
    place = world.send({"location": {"lat": 52.5163, "lng": 13.3777, "name": "Brandenburger Tor"}})
    contact = world.send({"contact": {"displayName": "Ada", "phone": "+44 20 7946 0958"}})
    reply = world.send({"text": "see above", "replyTo": place["messageId"]})
    assert world.heard("message", place["waMessageId"])["location"] == {
        "lat": 52.5163, "lng": 13.3777, "name": "Brandenburger Tor"}
    heard_contact = world.heard("message", contact["waMessageId"])
    assert heard_contact["kind"] == "contact" and "waid=442079460958" in heard_contact["contact"]["vcard"]
    heard_reply = world.heard("message", reply["waMessageId"])
    assert (heard_reply["kind"], heard_reply["quotedId"]) == ("text", place["waMessageId"])


def test_an_image_broadcast_to_50_chats_uploads_once(world):
    png = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 120, 200)).save(png, "PNG")
    media_id = world.upload(png.getvalue(), "photo.png")["mediaId"]
    before = len(world.cdn_files())
    accepted = [world.send({"media": {"id": media_id, "kind": "image"}, "wait": False}, to=f"+4915200000{i:03d}",
                           status=202)["messageId"] for i in range(50)]
    world.server.wait_for(lambda: all(world.server.request("GET", f"/api/messages/{i}").json["status"] == "server"
                                      for i in accepted), 60, "50 sends done", poll=0.3)
    assert len(world.cdn_files()) - before == 1


def test_a_download_that_failed_is_retried_through_the_api(world):
    """WhatsApp's CDN drops a file while alice's upload is still reused: bob's download fails; the file
    is back, the retry route stores it."""
    data = b"%PDF-1.4\n" + os.urandom(50_000)
    document_goes_a_to_b(world, data, "twice.pdf")
    [upload] = [p for p in world.cdn_files() if p.read_bytes() == data]
    kept = world.tmp / "kept"
    shutil.move(upload, kept)
    sent = world.send({"media": {"id": world.upload(data, "twice.pdf")["mediaId"], "kind": "document"}})
    failed = world.heard("message.media", sent["waMessageId"])["media"]
    assert failed["status"] == "failed" and "CDN" in failed["reason"] and failed["url"] is None
    assert world.fetch(world.heard("message", sent["waMessageId"])["media"]["url"]).status == 410
    shutil.move(kept, upload)
    retried = world.server.request("POST", f"/api/media/{failed['id']}/retry")
    assert retried.status == 202 and retried.json["status"] == "pending", retried
    world.receiver.wait_for(lambda: [h for h in world.receiver.attempts("bob") if h.event.get("type") == "message.media"
                                     and h.event["data"]["media"]["status"] == "stored"
                                     and h.event["data"]["media"]["id"] == failed["id"]], what="the retried download")
    assert world.fetch(retried.json["url"]).body == data
    assert world.server.request("POST", f"/api/media/{failed['id']}/retry").status == 409, "stored: nothing to retry"


def test_kinds_not_in_media_download_are_skipped_and_a_file_over_media_max_mb_is_too_large(tmp_path):
    """MEDIA_MAX_MB caps alice's uploads too; a voice note converted from a small, low-rate MP3 is
    larger than it (OGG/Opus at 32 kb/s), and that is what bob is declared."""
    world = MediaWorld(tmp_path, MEDIA_DOWNLOAD="voice,image", MEDIA_MAX_MB="1")
    try:
        sent = world.send({"media": {"id": world.upload(b"%PDF-1.4\n" + os.urandom(9000), "a.pdf")["mediaId"],
                                     "kind": "document"}})
        media = world.heard("message", sent["waMessageId"])["media"]
        assert media["status"] == "skipped" and "MEDIA_DOWNLOAD" in media["reason"] and media["url"] is None
        assert world.server.request("GET", f"/api/media/{media['id']}/info").json["status"] == "skipped"
        mp3 = lavfi(tmp_path / "long.mp3", "sine=frequency=300:sample_rate=8000:duration=300",
                    "-ac", "1", "-c:a", "libmp3lame", "-b:a", "8k").read_bytes()
        assert len(mp3) < 1 << 20
        sent = world.send({"media": {"id": world.upload(mp3, "long.mp3")["mediaId"], "kind": "voice"}})
        media = world.heard("message", sent["waMessageId"])["media"]
        assert media["size"] > 1 << 20 and media["status"] == "too_large" and "MEDIA_MAX_MB" in media["reason"]
        info = world.server.request("GET", f"/api/media/{media['id']}/info").json
        assert (info["status"], info["url"], info["sha256"]) == ("too_large", None, None), "nothing was downloaded"
    finally:
        world.close()


def test_a_document_goes_a_to_b_through_an_s3_store(tmp_path, s3_env):
    world = MediaWorld(tmp_path, MEDIA_STORE=f"s3://{s3_env}/media")
    try:
        data = b"%PDF-1.4\n" + os.urandom(2 << 20)
        uploaded, _, outcome = document_goes_a_to_b(world, data, "s3.pdf")
        assert world.stored_bytes(outcome) == data and outcome["media"]["sha256"] == uploaded["sha256"]
        assert any(uploaded["sha256"] in key for key in objects(s3_env)), "one blob, in the bucket"
        assert not list((tmp_path / "data").glob("media/**/*" + uploaded["sha256"] + "*"))
    finally:
        world.close()


def test_a_scoped_key_uploads_and_sends_its_own_media_only_and_a_replay_sends_once(world):
    key = world.server.request("POST", "/api/keys", {"clients": ["alice"], "label": "e2e"}).json["key"]
    pdf = b"%PDF-1.4\n" + os.urandom(20_000)
    path = "/api/media?fileName=k.pdf"
    assert world.server.request("POST", path, pdf, key=key).status == 400, "clientId is required"
    assert world.server.request("POST", path + "&clientId=bob", pdf, key=key).status == 404
    own = world.server.request("POST", path + "&clientId=alice", pdf, key=key).json["mediaId"]
    bobs = world.upload(pdf, "k.pdf", client_id="bob")["mediaId"]

    def send(media_id, idem):
        return world.server.request("POST", "/api/messages/send", {
            "clientId": "alice", "to": BOB, "media": {"id": media_id, "kind": "document"}},
            key=key, headers={"Idempotency-Key": idem})
    assert send(bobs, "k-0").status == 404, "another client's media is not found"
    first, replay = send(own, "k-1"), send(own, "k-1")
    assert first.status == replay.status == 200 and first.json["messageId"] == replay.json["messageId"]
    world.heard("message.media", first.json["waMessageId"])
    heard = [h for h in world.receiver.attempts("bob") if h.event.get("type") == "message"
             and h.event["data"]["id"] == first.json["waMessageId"]]
    assert len({h.event_id for h in heard}) == 1, "the replay sent nothing more"


def test_a_document_goes_a_to_b_on_mariadb_and_its_rows_keep_it(tmp_path, mariadb):
    world = MediaWorld(tmp_path, **mariadb.env(mariadb.new_database()))
    try:
        data = b"%PDF-1.4\n" + os.urandom(1 << 20)
        uploaded, message, outcome = document_goes_a_to_b(world, data, "db.pdf")
        assert world.stored_bytes(outcome) == data and outcome["media"]["sha256"] == uploaded["sha256"]
        events = world.server.request("GET", "/api/events?clientId=bob&type=message.media").json["events"]
        assert [e["data"]["media"]["id"] for e in events] == [message["media"]["id"]], "stored in the outbox too"
    finally:
        world.close()
