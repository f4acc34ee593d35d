"""The HTTP API through Flask's test client, against the FakeRegistry test double."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.fake_registry import FAKE_PAIRING_CODE, FakeRegistry
from wamulti.web.app import create_app
from wamulti.config import Settings
from wamulti.errors import Upstream
from wamulti.store.store_api import StoreError, StoreUnavailable

KEY = "test-key-0123456789abcdef"
MAX_BODY = 1024 * 1024


@pytest.fixture
def registry():
    return FakeRegistry(store_kind="mysql")


@pytest.fixture
def app(registry):
    return create_app(Settings(api_key=KEY, max_body_bytes=MAX_BODY), registry)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client):
    """Call the API with the right key: api("POST", path, json=...)."""

    def call(method, path, headers=None, **kwargs):
        resp = client.open(path, method=method, headers={"x-api-key": KEY, **(headers or {})}, **kwargs)
        assert KEY.encode() not in resp.get_data() and KEY not in str(resp.headers)  # never echoed
        return resp

    return call


def assert_error(resp, status, code):
    """The response is the documented JSON error shape with that status and code."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    body = resp.get_json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    text = resp.get_data(as_text=True)
    for leak in ("Traceback", "<html", "<!doctype", ".py", "/work/", KEY):
        assert leak.lower() not in text.lower()
    return body


# ---- auth --------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"x-api-key": ""}, {"x-api-key": "wrong"},
                                     {"x-api-key": KEY + "x"}, {"x-api-key": KEY[:-1]},
                                     {"x-api-key": KEY.upper()}, {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": "Bearer wrong"}, {"x-api-key": "wam_" + "x" * 43}])
@pytest.mark.parametrize("method, path", [("GET", "/api/clients"), ("POST", "/api/clients"),
                                          ("GET", "/api/clients/a"), ("DELETE", "/api/clients/a"),
                                          ("POST", "/api/clients/a/pair"), ("GET", "/api/clients/a/qr"),
                                          ("POST", "/api/messages/send"), ("GET", "/api/nothing-here"),
                                          ("PUT", "/api/messages/send"), ("GET", "/api")])
def test_every_api_path_needs_the_key(client, registry, headers, method, path):
    resp = client.open(path, method=method, headers=headers, json={"clientId": "a"})
    assert_error(resp, 401, "unauthorized")
    assert registry.calls == []


@pytest.mark.parametrize("header", ["x-api-key", "X-API-KEY", "X-Api-Key", "x-API-key"])
def test_header_name_is_case_insensitive(client, header):
    resp = client.get("/api/clients", headers={header: KEY})
    assert resp.status_code == 200 and resp.get_json() == []


def test_missing_and_wrong_key_are_told_apart(client):
    assert "required" in client.get("/api/clients").get_json()["message"]
    assert "not valid" in client.get("/api/clients", headers={"x-api-key": "nope"}).get_json()["message"]


def test_auth_comes_before_body_checks(client, registry):
    big = b"x" * (MAX_BODY + 1)
    assert_error(client.post("/api/messages/send", data=big, content_type="text/plain"), 401, "unauthorized")
    assert_error(client.post("/api/messages/send", data="{", content_type="application/json"), 401, "unauthorized")
    assert registry.calls == []


def test_health_needs_no_key_and_reveals_no_secret(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "store": "mysql", "clients": 0}
    assert KEY not in resp.get_data(as_text=True)


def test_each_app_has_its_own_key(registry):
    other = create_app(Settings(api_key="another-key-0123456789"), registry).test_client()
    assert other.get("/api/clients", headers={"x-api-key": KEY}).status_code == 401
    assert other.get("/api/clients", headers={"x-api-key": "another-key-0123456789"}).status_code == 200


def test_empty_api_key_is_refused(registry):
    with pytest.raises(ValueError):
        create_app(Settings(api_key=""), registry)


# ---- error shapes ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/nope", "/dashboard/nope", "/dashboard/static/nope.js", "/healthz/",
                                  "/api/clients/", "/api/messages/send/", "/api/clients/a/b/c", "/api/messages"])
def test_unknown_paths_are_json_404(api, path):
    assert_error(api("GET", path), 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/messages/send", {"POST", "OPTIONS"}),
    ("GET", "/api/messages/send", {"POST", "OPTIONS"}),
    ("PUT", "/api/clients", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("POST", "/api/clients/a/qr", {"GET", "HEAD", "OPTIONS"}),
    ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
])
def test_wrong_method_is_json_405_with_allow(api, method, path, allowed):
    resp = api(method, path)
    assert_error(resp, 405, "method_not_allowed")
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == allowed


def test_oversized_body_is_json_413(api, registry):
    body = json.dumps({"clientId": "a", "to": "14155550100", "text": "x" * MAX_BODY})
    assert_error(api("POST", "/api/messages/send", data=body, content_type="application/json"),
                 413, "payload_too_large")
    assert registry.calls == []


def test_oversized_chunked_body_is_json_413(api, registry):
    # No Content-Length: the limit is enforced while reading (waitress sets wsgi.input_terminated).
    stream = io.BytesIO(b'{"text": "' + b"x" * (MAX_BODY + 10) + b'"}')
    resp = api("POST", "/api/messages/send", input_stream=stream, content_type="application/json",
               environ_overrides={"wsgi.input_terminated": True})
    assert_error(resp, 413, "payload_too_large")
    assert registry.calls == []


def test_body_just_under_the_limit_is_read(api, registry):
    registry.add("a")
    body = json.dumps({"clientId": "a", "to": "14155550100", "text": "x", "pad": ""})
    body = body[:-2] + "x" * (MAX_BODY - len(body)) + '"}'
    assert len(body) == MAX_BODY
    assert api("POST", "/api/messages/send", data=body, content_type="application/json").status_code == 200


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/json; charset=latin-1",
                                          "application/jsonx", "text/json"])
def test_non_json_content_type_is_415(api, registry, content_type):
    registry.add("a")
    kwargs = {"content_type": content_type} if content_type else {}
    resp = api("POST", "/api/messages/send", data='{"clientId": "a", "to": "14155550100", "text": "hi"}', **kwargs)
    assert_error(resp, 415, "unsupported_media_type")
    assert registry.calls == []


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON; charset=UTF-8"])
def test_json_content_type_variants_are_accepted(api, registry, content_type):
    registry.add("a")
    resp = api("POST", "/api/messages/send", data='{"clientId": "a", "to": "14155550100", "text": "hi"}',
               content_type=content_type)
    assert resp.status_code == 200


@pytest.mark.parametrize("data, words", [
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b"{'clientId': 'a'}", "not valid JSON"),
    (b'{"clientId": "a",}', "not valid JSON"),
    (b'{"n": NaN}', "not valid JSON"),
    (b'{"n": -Infinity}', "not valid JSON"),
    (b'{"n": ' + b"1" * 5000 + b"}", "not valid JSON"),
    (b'{"text": "\xff\xfe"}', "UTF-8"),
    (b'{"text": "\xed\xa0\x80"}', "UTF-8"),  # an encoded surrogate is not UTF-8
    (b"[]", "JSON object"),
    (b'[{"clientId": "a"}]', "JSON object"),
    (b'"text"', "JSON object"),
    (b"42", "JSON object"),
    (b"null", "JSON object"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    (b'{"a": ' + b'{"b": ' * 100_000, "nested too deeply"),
])
def test_bad_json_bodies_are_400(api, registry, data, words):
    resp = api("POST", "/api/messages/send", data=data, content_type="application/json")
    body = assert_error(resp, 400, "invalid_request")
    assert words in body["message"]
    assert registry.calls == []


@pytest.mark.parametrize("path", ["/api/clients", "/api/clients/a/pair", "/api/messages/send"])
@pytest.mark.parametrize("data, member", [
    (b'{"clientId": "a", "to": "14155550100", "to": "14155550101", "text": "hi"}', "'to'"),
    (b'{"clientId": "a", "clientId": "a", "to": "14155550100", "text": "hi"}', "'clientId'"),  # even alike
    (b'{"clientId": "a", "\\u0074ext": "x", "text": "hi", "to": "14155550100"}', "'text'"),  # one name, spelt twice
    (b'{"clientId": "a", "to": "14155550100", "text": "hi", "x": [{"k": 1, "k": 2}]}', "'k'"),  # nested
])
def test_a_member_given_twice_is_400_and_nothing_runs(api, registry, path, data, member):
    registry.add("a", state="CLOSED")
    resp = api("POST", path, data=data, content_type="application/json")
    body = assert_error(resp, 400, "invalid_request")
    assert f"member {member} is given twice" in body["message"]
    assert registry.calls == []


def test_unexpected_exception_is_generic_500_and_logged(api, registry, caplog):
    registry.add("a")
    registry.fail["send_text"] = RuntimeError("boom at /srv/secret.py password=hunter2")
    with caplog.at_level(logging.ERROR, logger="wamulti"):
        resp = api("POST", "/api/messages/send", json={"clientId": "a", "to": "14155550100", "text": "private words"})
    body = assert_error(resp, 500, "internal_error")
    assert body == {"error": "internal_error", "message": "An unexpected error occurred on the server."}
    assert "boom" not in resp.get_data(as_text=True)
    records = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert records and records[0].exc_info is not None  # the traceback is in the server log
    assert "/api/messages/send" in caplog.text
    assert KEY not in caplog.text and "private words" not in caplog.text


def test_store_unavailable_is_503(api, registry):
    registry.fail["list"] = StoreUnavailable("connection refused to 10.0.0.5:3306")
    resp = api("GET", "/api/clients")
    body = assert_error(resp, 503, "store_unavailable")
    assert "10.0.0.5" not in body["message"]
    assert resp.headers["Retry-After"] == "5"


def test_store_error_is_500_with_its_safe_message(api, registry):
    registry.fail["create"] = StoreError("The snapshot is larger than the server's max_allowed_packet.")
    resp = api("POST", "/api/clients", json={"clientId": "a", "phone": "+1 415 555 0100"})
    body = assert_error(resp, 500, "internal_error")
    assert "max_allowed_packet" in body["message"]


# ---- messages ----------------------------------------------------------------------------------
def send(api, **body):
    return api("POST", "/api/messages/send", json=body)


def test_send_success_shape(api, registry):
    registry.add("work-phone")
    resp = send(api, clientId="work-phone", to="+1 (415) 555-0100", text="hello", extra={"ignored": [1]})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert resp.get_json() == {"success": True, "messageId": "FAKE000001", "waMessageId": "WA000001",
                               "clientId": "work-phone", "to": "14155550100@s.whatsapp.net",
                               "timestamp": "2024-05-06T07:08:09.123Z"}
    assert registry.sent == [("work-phone", "+14155550100", "hello")], "a phone number goes down as '+<digits>'"


def test_send_to_a_group_jid(api, registry):
    registry.add("a")
    resp = send(api, clientId="a", to="120363012345678901@g.us", text="hi all")
    assert resp.status_code == 200 and resp.get_json()["to"] == "120363012345678901@g.us"


@pytest.mark.parametrize("text", ["😀👍🏽🇩🇪", "مرحبا بالعالم", "שלום עולם", "e\u0301 a\u0308 n\u0303",
                                  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010fffd", "mixed: abc אבג ١٢٣ 😀", "\u200f\u202e RTL marks",
                                  "😀" * 65536])
def test_unicode_text_arrives_unchanged(api, registry, text):
    registry.add("a")
    assert send(api, clientId="a", to="14155550100", text=text).status_code == 200
    assert registry.sent[-1][2] == text


def test_escaped_unicode_in_json_arrives_unchanged(api, registry):
    registry.add("a")
    raw = '{"clientId": "a", "to": "14155550100", "text": "\\ud83d\\ude00 \\u05e9"}'
    assert api("POST", "/api/messages/send", data=raw, content_type="application/json").status_code == 200
    assert registry.sent[-1][2] == "😀 ש"


@pytest.mark.parametrize("body, field", [
    ({}, "clientId"),
    ({"clientId": "nobody", "to": "14155550100"}, "text"),
    ({"clientId": "nobody", "text": "hi"}, "to"),
    ({"clientId": "bad id", "to": "14155550100", "text": "hi"}, "clientId"),
    ({"clientId": "nobody", "to": "12", "text": "hi"}, "to"),
    ({"clientId": "nobody", "to": "14155550100", "text": ""}, "text"),
    ({"clientId": "nobody", "to": "14155550100", "text": "   "}, "text"),
    ({"clientId": "nobody", "to": "14155550100", "text": "x" * 65537}, "text"),
    ({"clientId": "nobody", "to": "14155550100", "text": ["hi"]}, "text"),
    ({"clientId": "nobody", "to": 14155550100, "text": "hi"}, "to"),
    ({"clientId": None, "to": "14155550100", "text": "hi"}, "clientId"),
    ({"clientId": "pairing", "to": "14155550100", "text": ""}, "text"),
    ({"clientId": "pairing", "to": "not a number", "text": "hi"}, "to"),
])
def test_send_validates_every_field_before_the_registry(api, registry, body, field):
    registry.add("pairing", "PAIRING")
    resp = send(api, **body)
    assert field in assert_error(resp, 400, "invalid_request")["message"]
    assert registry.calls == []


def test_surrogate_escape_in_text_is_400_not_500(api, registry):
    registry.add("a")
    raw = '{"clientId": "a", "to": "14155550100", "text": "half \\ud800 a pair"}'
    resp = api("POST", "/api/messages/send", data=raw, content_type="application/json")
    assert "text" in assert_error(resp, 400, "invalid_request")["message"]


def test_send_to_unknown_client_is_404(api):
    assert_error(send(api, clientId="ghost", to="14155550100", text="hi"), 404, "not_found")


@pytest.mark.parametrize("state, retry_after", [("CONNECTING", "5"), ("SYNCING", "5"), ("PAIRING", "30"),
                                                ("CLOSED", "30")])
def test_send_when_not_ready_is_503_with_a_retry_after_that_fits_the_state(api, registry, state, retry_after):
    registry.add("a", state)
    resp = send(api, clientId="a", to="14155550100", text="hi")
    body = assert_error(resp, 503, "client_not_ready")
    assert body["currentState"] == state
    assert resp.headers["Retry-After"] == retry_after


def test_upstream_failure_is_502_with_reason(api, registry):
    registry.add("a")
    registry.fail["send_text"] = Upstream("WhatsApp refused or failed the send: rate limited")
    body = assert_error(send(api, clientId="a", to="14155550100", text="hi"), 502, "upstream_error")
    assert "rate limited" in body["message"]


# ---- clients -----------------------------------------------------------------------------------
def test_create_with_phone_is_201_with_location(api, registry):
    resp = api("POST", "/api/clients", json={"clientId": "work-phone", "phone": "+49 151 2345-678"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == "/api/clients/work-phone"
    assert resp.get_json() == {"clientId": "work-phone", "state": "PAIRING", "pairingCode": FAKE_PAIRING_CODE,
                               "phone": "491512345678", "jid": None, "lastError": None,
                               "updatedAt": "2024-05-06T07:08:09.123Z", "retryAt": None, "pairingExpiresAt": None,
                               "snapshotLagSeconds": 0.0, "lastSnapshotAt": None}
    assert list(resp.get_json()) == ["clientId", "state", "pairingCode", "phone", "jid", "lastError", "updatedAt",
                                     "retryAt", "pairingExpiresAt", "snapshotLagSeconds", "lastSnapshotAt"]
    assert registry.calls == [("create", "work-phone", "491512345678")]


@pytest.mark.parametrize("body", [{"clientId": "console"}, {"clientId": "console", "phone": None}])
def test_create_without_phone_uses_the_console(client, registry, body):
    registry.console_enabled = True
    resp = client.post("/api/clients", headers={"x-api-key": KEY}, json=body)
    assert resp.status_code == 201 and resp.get_json()["pairingCode"] is None
    assert registry.calls == [("create", "console", None)]


def test_create_without_phone_and_console_off_is_400(api, registry):
    body = assert_error(api("POST", "/api/clients", json={"clientId": "a"}), 400, "invalid_request")
    assert "phone" in body["message"] and registry.clients == {}


def test_create_existing_id_is_409(api, registry):
    registry.add("a", "READY", phone="14155550100")
    before = dict(registry.clients)
    assert_error(api("POST", "/api/clients", json={"clientId": "a", "phone": "+1 415 555 0199"}), 409, "conflict")
    assert registry.clients == before


@pytest.mark.parametrize("body, field", [
    ({}, "clientId"), ({"phone": "+14155550100"}, "clientId"), ({"clientId": ""}, "clientId"),
    ({"clientId": 42}, "clientId"), ({"clientId": "x" * 65}, "clientId"), ({"clientId": "../etc"}, "clientId"),
    ({"clientId": "a", "phone": "12"}, "phone"), ({"clientId": "a", "phone": 14155550100}, "phone"),
    ({"clientId": "a", "phone": "0151 2345678"}, "phone"), ({"clientId": "a", "phone": ""}, "phone"),
])
def test_create_validates_before_the_registry(api, registry, body, field):
    resp = api("POST", "/api/clients", json=body)
    assert f"'{field}'" in assert_error(resp, 400, "invalid_request")["message"]
    assert registry.calls == []


@pytest.mark.parametrize("client_id, shown", [("wörk", "ö"), ("work-📱", "📱"), ("שלום", "ש"),
                                              ("e\u0301", "\u0301")])
def test_unicode_in_client_id_rejection_arrives_unchanged(api, client_id, shown):
    resp = api("POST", "/api/clients", json={"clientId": client_id, "phone": "+14155550100"})
    body = assert_error(resp, 400, "invalid_request")
    assert f"'{shown}'" in body["message"]
    assert shown.encode("utf-8") in resp.get_data()  # raw UTF-8, not \u escapes


def test_surrogate_in_client_id_is_a_clean_400(api):
    raw = '{"clientId": "a\\udfff", "phone": "+14155550100"}'
    resp = api("POST", "/api/clients", data=raw, content_type="application/json")
    assert "clientId" in assert_error(resp, 400, "invalid_request")["message"]


def test_list_is_sorted(api, registry):
    for cid in ("zeta", "Alpha", "beta", "0-first"):
        registry.add(cid, "CLOSED", last_error="logged_out")
    body = api("GET", "/api/clients").get_json()
    assert [c["clientId"] for c in body] == sorted(["zeta", "Alpha", "beta", "0-first"])
    assert body[0]["lastError"] == "logged_out"


def test_get_client_and_404(api, registry):
    registry.add("a", "READY", phone="14155550100", jid="14155550100@s.whatsapp.net")
    body = api("GET", "/api/clients/a").get_json()
    assert body["jid"] == "14155550100@s.whatsapp.net" and body["state"] == "READY"
    assert_error(api("GET", "/api/clients/b"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/clients/..", "/api/clients/.hidden", "/api/clients/%2E%2E",
                                  "/api/clients/" + "x" * 65, "/api/clients/w%C3%B6rk", "/api/clients/a%20b",
                                  "/api/clients/-a", "/api/clients/%F0%9F%93%B1"])
@pytest.mark.parametrize("method, suffix", [("GET", ""), ("DELETE", ""), ("POST", "/pair"), ("GET", "/qr")])
def test_bad_client_id_in_path_is_400(api, registry, path, method, suffix):
    resp = api(method, path + suffix)
    assert "clientId" in assert_error(resp, 400, "invalid_request")["message"]
    assert registry.calls == []


def test_encoded_slash_in_path_does_not_reach_another_route(api, registry):
    registry.add("a")
    resp = api("DELETE", "/api/clients/a%2F..")
    assert resp.status_code in (400, 404)
    assert "a" in registry.clients


def test_pair_with_empty_body(client, registry):
    registry.console_enabled = True
    registry.add("a", "CLOSED", last_error="no_phone_number")
    resp = client.post("/api/clients/a/pair", headers={"x-api-key": KEY})
    assert resp.status_code == 200 and resp.get_json()["state"] == "PAIRING"
    assert registry.calls == [("pair", "a", None)]


def test_pair_with_phone(api, registry):
    registry.add("a", "CLOSED", last_error="pairing_timeout")
    resp = api("POST", "/api/clients/a/pair", json={"phone": "+49 151 2345678"})
    assert resp.status_code == 200 and resp.get_json()["pairingCode"] == FAKE_PAIRING_CODE
    assert registry.calls == [("pair", "a", "491512345678")]


@pytest.mark.parametrize("data, content_type, status", [
    ("[]", "application/json", 400), ("{", "application/json", 400), ('{"phone": "1"}', "application/json", 400),
    ("phone=1", "application/x-www-form-urlencoded", 415),
])
def test_pair_body_is_still_checked(api, registry, data, content_type, status):
    registry.add("a", "CLOSED")
    assert api("POST", "/api/clients/a/pair", data=data, content_type=content_type).status_code == status
    assert registry.calls == []


def test_pair_errors(api, registry):
    registry.add("ready", "READY")
    assert_error(api("POST", "/api/clients/ready/pair", json={"phone": "+14155550100"}), 409, "conflict")
    assert_error(api("POST", "/api/clients/ghost/pair", json={"phone": "+14155550100"}), 404, "not_found")
    registry.add("closed", "CLOSED")
    assert_error(api("POST", "/api/clients/closed/pair"), 400, "invalid_request")  # console off, no phone


def test_qr_png_and_text(api, registry):
    registry.add("a", "PAIRING")
    registry.qr_codes["a"] = "2@abc,def,ghi=="
    png = api("GET", "/api/clients/a/qr")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.get_data().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.headers["Cache-Control"] == "no-store"
    text = api("GET", "/api/clients/a/qr?format=text")
    assert text.status_code == 200 and text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.get_data(as_text=True) == "2@abc,def,ghi=="
    assert api("GET", "/api/clients/a/qr?format=png").mimetype == "image/png"


def test_qr_errors(api, registry):
    registry.add("a", "READY")
    assert_error(api("GET", "/api/clients/a/qr"), 404, "not_found")
    assert_error(api("GET", "/api/clients/ghost/qr"), 404, "not_found")
    body = assert_error(api("GET", "/api/clients/a/qr?format=svg"), 400, "invalid_request")
    assert "format" in body["message"]
    assert registry.calls == [("qr", "a"), ("qr", "ghost")]


def test_delete(api, registry):
    registry.add("a", "CLOSED")
    registry.add("b", "READY")
    resp = api("DELETE", "/api/clients/a")
    assert resp.status_code == 200 and resp.get_json() == {
        "clientId": "a", "deleted": True, "unlinked": False,
        "message": "The client was not linked to a phone: there was nothing to unlink."}
    assert api("DELETE", "/api/clients/b").get_json()["unlinked"] is True
    assert_error(api("DELETE", "/api/clients/a"), 404, "not_found")


# ---- health ------------------------------------------------------------------------------------
def test_health_degraded_when_the_store_is_down(client, registry):
    registry.add("a")
    registry.store_ok = False
    resp = client.get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert (body["status"], body["store"], body["clients"], body["error"]) == ("degraded", "mysql", 1,
                                                                              "store_unavailable")


def test_health_head(client):
    assert client.head("/healthz").status_code == 200
