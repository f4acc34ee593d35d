"""The media routes through the real app over a real store, registry, keys and library: uploads
(raw and multipart), the size cap, what a scoped key reaches, file answers and the public signed links."""

from __future__ import annotations

import hashlib
import io
import os
import time
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from tests.keys_world import ADMIN_KEY, make_world
from tests.s3_server import moto_endpoint, objects, s3_env  # noqa: F401 (fixtures)
from tests.test_api import assert_error
from wamulti.config import Settings
from wamulti.media.library import MediaLibrary
from wamulti.metrics.prometheus_metrics import Metrics
from wamulti.web.app import create_app

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 64


@pytest.fixture
def world(store, make_registry, tmp_path):
    world = make_world(store, make_registry)
    settings = Settings(api_key=ADMIN_KEY, data_dir=tmp_path / "data", media_max_mb=1,
                        public_url="https://wa.example.com")
    world.media = MediaLibrary.from_settings(settings, store)
    world.app = create_app(settings, world.registry, world.events, Metrics(), world.keys, world.media)
    world.client = world.app.test_client()
    world.alice_key = world.new_key("alice")
    world.call = lambda *args, **kwargs: call(world, *args, **kwargs)
    return world


def call(world, method: str, path: str, key: str | None = ADMIN_KEY, **kwargs):
    """One request; bytes answers allowed (World.call reads every answer as text)."""
    resp = world.client.open(path, method=method, headers={} if key is None else {"x-api-key": key}, **kwargs)
    assert b"Traceback" not in resp.data and (key is None or key.encode() not in resp.data)
    return resp


def upload(world, data=PDF, query="?fileName=report.pdf&clientId=alice", key=ADMIN_KEY, **kwargs):
    kwargs.setdefault("content_type", "application/pdf")
    return world.call("POST", f"/api/media{query}", key=key, data=data, **kwargs)


def test_a_raw_upload_answers_its_record_and_the_file_comes_back(world):
    resp = upload(world)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body == {"mediaId": body["mediaId"], "mimetype": "application/pdf", "size": len(PDF),
                    "sha256": hashlib.sha256(PDF).hexdigest(), "fileName": "report.pdf", "clientId": "alice"}
    got = world.call("GET", f"/api/media/{body['mediaId']}")
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Length"] == str(len(PDF))
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"] == "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"


def test_a_multipart_upload_takes_its_one_file_part_and_the_type_is_sniffed(world):
    resp = world.call("POST", "/api/media", data={"file": (io.BytesIO(PNG), "../pic.pdf")},
                      content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert (resp.get_json()["mimetype"], resp.get_json()["fileName"], resp.get_json()["clientId"]) == (
        "image/png", "pic.pdf", None)
    two = world.call("POST", "/api/media", content_type="multipart/form-data",
                     data={"a": (io.BytesIO(b"1"), "a"), "b": (io.BytesIO(b"2"), "b")})
    assert_error(two, 400, "invalid_request")


def test_a_file_over_media_max_mb_is_413_media_too_large_and_nothing_is_stored(world):
    before = world.media._store.old_media(_far_future(), 100)
    assert_error(upload(world, data=b"x" * ((1 << 20) + 1)), 413, "media_too_large")
    assert_error(upload(world, data=b"x" * (2 << 20)), 413, "media_too_large")  # refused by its Content-Length
    assert_error(upload(world, data=b""), 400, "invalid_request")  # and an empty one is no file
    assert world.media._store.old_media(_far_future(), 100) == before
    assert upload(world, data=b"x" * (1 << 20)).status_code == 201  # at the cap is fine


def test_a_scoped_key_uploads_for_its_own_clients_only(world):
    key = world.alice_key
    assert_error(upload(world, query="?fileName=a.pdf", key=key), 400, "invalid_request")  # clientId required
    other = upload(world, query="?clientId=bob", key=key)
    ghost = upload(world, query="?clientId=nobody", key=key)
    assert_error(other, 404, "not_found")
    assert other.get_data().replace(b"bob", b"nobody") == ghost.get_data()  # as an unknown client
    assert upload(world, query="?clientId=alice", key=key).status_code == 201
    assert_error(upload(world, query="?clientId=nobody"), 404, "not_found")  # the admin: only known clients


def test_a_scoped_key_reads_its_clients_media_and_nothing_else(world):
    alices = upload(world).get_json()["mediaId"]
    bobs = upload(world, query="?clientId=bob").get_json()["mediaId"]
    admins = upload(world, query="").get_json()["mediaId"]
    key = world.alice_key
    assert world.call("GET", f"/api/media/{alices}", key=key).data == PDF
    for hidden in (bobs, admins, "m" + "a" * 26, "not-an-id"):
        for suffix in ("", "/info"):
            assert_error(world.call("GET", f"/api/media/{hidden}{suffix}", key=key), 404, "not_found")


def test_info_tells_the_status_and_a_signed_link_that_needs_no_key(world):
    media_id = upload(world).get_json()["mediaId"]
    info = world.call("GET", f"/api/media/{media_id}/info").get_json()
    assert (info["status"], info["reason"], info["sha256"]) == ("stored", None, hashlib.sha256(PDF).hexdigest())
    link = urlsplit(info["url"])
    assert (link.scheme, link.netloc, link.path) == ("https", "wa.example.com", f"/media/{media_id}")
    got = world.call("GET", f"{link.path}?{link.query}", key=None)
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["X-Content-Type-Options"] == "nosniff" and got.headers["Content-Disposition"].startswith(
        "attachment;")


def test_a_bad_or_expired_link_is_403(world):
    media_id = upload(world).get_json()["mediaId"]
    link = urlsplit(world.media.signed_url(media_id))
    tampered = link.query.replace("sig=", "sig=A")
    expired = f"expires={int(time.time()) - 1}&sig=" + link.query.split("sig=")[1]
    for query in (tampered, expired, "", "expires=abc&sig=x"):
        assert_error(world.call("GET", f"/media/{media_id}?{query}", key=None), 403, "link_invalid")


def test_a_pending_link_asks_to_retry_and_a_failed_one_is_gone(world):
    pending = world.media.begin_download("alice", mimetype="image/jpeg", size=10, file_name="x.jpg")
    resp = world.call("GET", urlsplit(world.media.signed_url(pending.media_id))._replace(scheme="", netloc="")
                      .geturl(), key=None)
    assert_error(resp, 503, "media_pending")
    assert resp.headers["Retry-After"] == "5"
    world.media.mark(pending.media_id, "too_large", "over MEDIA_MAX_MB")
    gone = world.call("GET", urlsplit(world.media.signed_url(pending.media_id))._replace(scheme="", netloc="")
                      .geturl(), key=None)
    assert_error(gone, 410, "media_unavailable")
    assert (gone.get_json()["status"], gone.get_json()["reason"]) == ("too_large", "over MEDIA_MAX_MB")
    info = world.call("GET", f"/api/media/{pending.media_id}/info").get_json()
    assert (info["status"], info["url"]) == ("too_large", None)


def test_the_api_routes_need_a_key(world):
    media_id = upload(world).get_json()["mediaId"]
    for method, path in (("POST", "/api/media"), ("GET", f"/api/media/{media_id}"),
                         ("GET", f"/api/media/{media_id}/info")):
        assert_error(world.call(method, path, key=None), 401, "unauthorized")


def _far_future():
    return datetime(9999, 1, 1)


def test_files_in_s3_are_stored_and_streamed_back_through_the_routes(sqlite_store, make_registry, s3_env, tmp_path):
    world = make_world(sqlite_store, make_registry)
    settings = Settings(api_key=ADMIN_KEY, data_dir=tmp_path / "data", media_store=f"s3://{s3_env}/wa")
    world.media = MediaLibrary.from_settings(settings, sqlite_store)
    world.client = create_app(settings, world.registry, world.events, Metrics(), world.keys, world.media).test_client()
    data = os.urandom(3 << 20)
    body = call(world, "POST", "/api/media?fileName=noise.bin", data=data,
                content_type="application/octet-stream").get_json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert objects(s3_env) == [f"wa/{body['sha256'][:2]}/{body['sha256'][2:4]}/{body['sha256']}"]
    got = call(world, "GET", f"/api/media/{body['mediaId']}")
    assert got.data == data and got.headers["Content-Length"] == str(len(data))
    link = urlsplit(world.media.signed_url(body["mediaId"]))
    assert call(world, "GET", f"{link.path}?{link.query}", key=None).data == data
