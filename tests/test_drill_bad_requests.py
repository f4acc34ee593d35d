"""Fault drill: a corpus of bad requests against every route of the real server. No 5xx, every error
in the JSON shape, no trace, path or key in any answer, and nothing changed by any of them."""

from __future__ import annotations

import collections
import http.client
import json

import pytest

from tests.server_process import API_KEY, ServerProcess
from wamulti.errors import InvalidField
from wamulti.fields.client_fields import validate_client_id, validate_text
from wamulti.fields.phone import normalize_phone, normalize_recipient

pytestmark = pytest.mark.slow

ROUTES = [("POST", "/api/clients"), ("GET", "/api/clients"), ("GET", "/api/clients/{id}"),
          ("DELETE", "/api/clients/{id}"), ("POST", "/api/clients/{id}/pair"), ("GET", "/api/clients/{id}/qr"),
          ("POST", "/api/messages/send"), ("GET", "/healthz"),
          ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/docs")]
BAD_IDS = ["..", "%2e%2e", "a%2Fb", "%00", "a%0d%0aX-Injected:%201", "%C3%BC", "%F0%9F%93%B1", "x" * 65, "a%20b",
           "a;b", "a'b", "a%22b", "-lead", "_lead", "%ZZ", "a" * 3000]
BAD_VALUES = [None, True, False, 0, -1, 10**40, 1.5, "", " ", "x" * 100_000, [], ["+4915123456789"], {}, {"a": 1},
              "NaN", "+49 151", "0049151234567", "+++", "49 151 2345678 9999999", "😀", "abc@g.us", "1@s.whatsapp.net"]
FIELDS = {"/api/clients": ["clientId", "phone"], "/api/messages/send": ["clientId", "to", "text"],
          "/api/clients/{id}/pair": ["phone"]}
VALID = {"clientId": "ok1", "phone": "+4915123456789", "to": "+4915123456789", "text": "hi"}
CHECKS = {"clientId": validate_client_id, "phone": normalize_phone, "to": normalize_recipient, "text": validate_text}
WAITRESS_LIMIT = 16 * 1024 * 1024  # beyond it waitress drops the connection before any handler runs


def is_valid(field, value) -> bool:
    """Some corpus values are fine for some fields ("NaN" is a valid clientId): those are not bad."""
    if field == "phone" and value is None:
        return True
    try:
        CHECKS[field](value)
        return True
    except InvalidField:
        return False
RAW_BODIES = [b"", b"{", b"[]", b'"str"', b"42", b"null", b'{"clientId": "x",}', b'{"a":1} trailing', b"\xff\xfe{}",
              b'\xef\xbb\xbf{"clientId": "bom"}', "{\"clientId\": \"x\"}".encode("utf-16"), b'{"clientId": "\xc3\x28"}',
              b'{"text": "\\ud800"}', b"[" * 50_000, b'{"a":' * 50_000, b'{"clientId": "d", "clientId": "e"}',
              b"NaN", b'{"n": Infinity}', b"1" * 5000]
CONTENT_TYPES = [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                 "application/xml", "application/json; charset=latin-1", "application/jsonx"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("corpus") / "data", {"SIM_PAIR_DELAY": "0.2"}).start()
    assert server.request("POST", "/api/clients", {"clientId": "ok1", "phone": "+4915123456789"}).status == 201
    server.wait_all_ready(1)
    yield server
    server.close()


def raw(server, method, path, body=None, headers=None, key=API_KEY):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["x-api-key"] = key
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in hdrs.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def corpus():
    """(method, path, body bytes or None, headers, key) for every bad request, deterministic."""
    for method, route in ROUTES:
        for bad in BAD_IDS:
            yield method, route.replace("{id}", bad), None, {}, API_KEY
        path = route.replace("{id}", "ok1" if method != "DELETE" else "missing-client")  # keep ok1 alive
        for key in (None, "", "wrong-key-0123456789", API_KEY.upper(), API_KEY + " "):
            yield method, path, None, {}, key
        for other in ("PUT", "PATCH", "HEAD", "OPTIONS", "DELETE" if method != "DELETE" else "POST"):
            yield other, path.replace("ok1", "missing-client"), None, {}, API_KEY
        yield method, path + "?" + "junk=%ZZ&" * 800, None, {}, API_KEY
        if method != "POST":
            continue
        for field in FIELDS.get(route, []):
            for value in (v for v in BAD_VALUES if not is_valid(field, v)):
                body = {**{f: VALID[f] for f in FIELDS[route]}, field: value}
                if route == "/api/clients" and field != "clientId":
                    body["clientId"] = "never"
                yield method, path, json.dumps(body).encode(), {"Content-Type": "application/json"}, API_KEY
            yield method, path, json.dumps({f: VALID[f] for f in FIELDS[route] if f != field}).encode(), \
                {"Content-Type": "application/json"}, API_KEY
        for body in RAW_BODIES:
            yield method, path, body, {"Content-Type": "application/json"}, API_KEY
        for ctype in CONTENT_TYPES:
            yield method, path, b'{"clientId": "ctype"}', ({"Content-Type": ctype} if ctype else {}), API_KEY
        for size in (1024 * 1024 + 1, 20 * 1024 * 1024):
            yield method, path, b'{"t": "' + b"x" * (size - 9) + b'"}', {"Content-Type": "application/json"}, API_KEY


def test_bad_request_corpus(server):
    statuses = collections.Counter()
    problems = []
    for method, path, body, headers, key in corpus():
        try:
            status, hdrs, payload = raw(server, method, path, body, headers, key)
        except (ConnectionResetError, BrokenPipeError):
            if body is not None and len(body) > WAITRESS_LIMIT:
                statuses["dropped"] += 1
                continue
            raise
        statuses[status] += 1
        where = f"{method} {path[:80]} body={body[:60] if body else body!r} ct={headers.get('Content-Type')}"
        text = payload.decode("utf-8", "replace")
        if status >= 500:
            problems.append(f"{status} for {where}")
        if API_KEY in text or "Traceback" in text or ".py" in text or "/work" in text:
            problems.append(f"leak in answer to {where}")
        if status >= 400 and method != "HEAD":
            try:
                doc = json.loads(payload)
                assert isinstance(doc["error"], str) and isinstance(doc["message"], str)
                assert hdrs["content-type"].startswith("application/json")
            except (ValueError, KeyError, AssertionError):
                problems.append(f"not the JSON error shape ({status}) for {where}: {text[:120]}")
    print(f"\n{sum(statuses.values())} bad requests: {dict(sorted(statuses.items(), key=str))}")
    assert problems == []
    assert server.request("GET", "/healthz", key=None).status == 200
    assert [c["clientId"] for c in server.clients()] == ["ok1"] and server.clients()[0]["state"] == "READY"
    sent = server.request("POST", "/api/messages/send", {"clientId": "ok1", "to": "+4915123456789", "text": "still ok"})
    assert sent.status == 200


DUPLICATED = [  # (method, path, body, the member given twice): every route that takes a JSON body
    ("POST", "/api/clients", b'{"clientId": "dup1", "phone": "+4915123456789", "clientId": "dup2"}', "clientId"),
    ("POST", "/api/clients/ok1/pair", b'{"phone": "+4915123456789", "phone": "+4915123456780"}', "phone"),
    ("POST", "/api/messages/send", b'{"clientId": "ok1", "to": "+4915123456789", "to": "+4915123456780", '
                                   b'"text": "hi"}', "to"),
    ("POST", "/api/messages/send", b'{"clientId": "ok1", "to": "+4915123456789", "text": "hi", '
                                   b'"meta": {"k": [{"x": 1, "x": 2}]}}', "x"),  # deep inside
    ("PUT", "/api/clients/ok1/webhook", b'{"url": "http://127.0.0.1:9/a", "url": "http://127.0.0.1:9/b"}', "url"),
    ("PUT", "/api/clients/ok1/webhook", b'{"url": "http://127.0.0.1:9/a", "secr\\u0065t": "s", "secret": "t"}',
     "secret"),  # one name spelt two ways
    ("POST", "/api/clients/ok1/webhook/replay", b'{"after": "a", "after": "b"}', "after"),
]


@pytest.mark.parametrize("method, path, body, member", DUPLICATED)
def test_a_member_given_twice_is_400_naming_it_and_changes_nothing(server, method, path, body, member):
    before = server.clients(), server.request("GET", "/api/clients/ok1/webhook").status
    status, hdrs, payload = raw(server, method, path, body, {"Content-Type": "application/json"})
    assert status == 400, payload
    doc = json.loads(payload)
    assert doc["error"] == "invalid_request"
    assert f"member '{member}' is given twice" in doc["message"], doc
    after = server.clients(), server.request("GET", "/api/clients/ok1/webhook").status
    assert [c["clientId"] for c in after[0]] == ["ok1"] and after[1] == before[1] == 404
    assert after[0][0]["state"] == before[0][0]["state"] == "READY"
