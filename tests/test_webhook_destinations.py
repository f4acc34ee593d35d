"""Where per-client webhooks may point, through the routes and real deliveries: refusals at PUT,
names checked at every connect on what they resolve to (a resolver double: no real lookup), the
connect made to the vetted address (HTTPS keeping SNI and the certificate check on the name),
every attempt recorded whatever it raised, and passwords masked. Only loopback is ever dialled."""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import subprocess
import threading

import pytest

from tests.fake_registry import FakeRegistry
from tests.test_api import KEY, assert_error
from tests.webhook_receiver import Receiver
from wamulti.web.app import create_app
from wamulti.config import Settings
from wamulti.destinations.policy import DestinationPolicy, allowed_networks
from wamulti.hearing.webhook_directory import WebhookConfig
from wamulti.hearing.event_fields import new_secret
from wamulti.hearing.event_model import EventType
from wamulti.hearing.retry import RetryPolicy
from wamulti.hearing.webhook_post import WebhookSender
from wamulti.hearing.event_service import EventService
from wamulti.store.store_api import ClientRecord

SECRET = new_secret()
FAST = RetryPolicy(first=0.05, cap=0.2)
NAME = "hooks.example.test"  # never looked up for real: the resolver double answers for it


class FakeResolver:
    """A getaddrinfo double: answers the next of `answers` for every name (the last one repeats)."""

    def __init__(self, *answers: str):
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        self.asked.append(host)
        address = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


@pytest.fixture
def running(sqlite_store):
    """make(resolver, allow, policy) -> (started service, api call); stopped at the end."""
    made = []

    def make(resolver=None, allow="127.0.0.1/32", policy=FAST):
        destinations = DestinationPolicy(allowed_networks(allow), resolver=resolver or FakeResolver("127.0.0.1"))
        service = EventService(sqlite_store, policy=policy, poll_seconds=0.2, send_timeout=5.0,
                               destinations=destinations)
        service.start()
        made.append(service)
        registry = FakeRegistry()
        for client_id in ("a", "b"):
            registry.add(client_id)
            sqlite_store.create_client(ClientRecord(client_id, "READY"))
        client = create_app(Settings(api_key=KEY), registry, service).test_client()

        def call(method, path, **kwargs):
            return client.open(path, method=method, headers={"x-api-key": KEY}, **kwargs)
        return service, call

    yield make
    for service in made:
        service.stop(timeout=5)


def settled_status(service, receiver, event_id, what):
    """The event's status once it has at least one recorded attempt (or was delivered)."""
    def seen():
        status = next(s for s in service.list_events(limit=1000).events if s.event.id == event_id)
        return status if status.attempts >= 1 else None
    return receiver.wait_for(seen, timeout=10, what=what)


# ---- at PUT ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, rule", [
    ("http://169.254.169.254/latest/meta-data/", "link-local"), ("http://0x7f.1:8080/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "IPv4-mapped"), ("https://2130706433/", "loopback"), ("http://LOCALHOST./", "loopback"),
    ("http://[fd00::1%25eth0]/", "unique-local"), ("http://10.1.2.3/", "RFC 1918")])
def test_a_url_pointing_inward_is_400_destination_not_allowed_and_nothing_is_stored(running, url, rule):
    service, api = running(allow="")
    body = assert_error(api("PUT", "/api/clients/a/webhook", json={"url": url}), 400, "destination_not_allowed")
    assert body["message"].startswith("Field 'url' points to ") and rule in body["message"]
    assert_error(api("GET", "/api/clients/a/webhook"), 404, "not_found")


def test_a_url_with_no_sendable_form_is_400_saying_why(running):
    _, api = running()
    body = assert_error(api("PUT", "/api/clients/a/webhook", json={"url": f"http://{'x' * 64}.example/"}),
                        400, "invalid_request")
    assert "Field 'url' cannot be sent: a label of the host name" in body["message"]


def test_a_non_ascii_url_is_stored_and_sent_percent_encoded(running, receiver):
    service, api = running()
    url = receiver.url("/päth?q=ü")
    put = api("PUT", "/api/clients/a/webhook", json={"url": url, "secret": SECRET}).get_json()
    assert put["url"] == receiver.url("/p%C3%A4th?q=%C3%BC")
    service.publish("a", EventType.MESSAGE, {})
    receiver.wait_for(lambda: receiver.delivered("a"), what="the delivery")
    assert receiver.attempts("a")[0].path == "/p%C3%A4th?q=%C3%BC"


# ---- at every connect ----------------------------------------------------------------------------
def test_a_name_is_dialled_at_the_address_that_passed_with_the_name_as_host(running, receiver):
    resolver = FakeResolver("127.0.0.1")
    service, api = running(resolver)
    port = receiver.server.server_address[1]
    assert api("PUT", "/api/clients/a/webhook", json={"url": f"http://{NAME}:{port}/hook",
                                                      "secret": SECRET}).status_code == 200
    service.publish("a", EventType.MESSAGE, {})
    receiver.wait_for(lambda: receiver.delivered("a"), what="the delivery")
    assert receiver.attempts("a")[0].headers["host"] == f"{NAME}:{port}"
    assert resolver.asked == [NAME], "one lookup, whose vetted answer was dialled"


def test_a_name_that_rebinds_inward_is_refused_at_the_next_connect_before_any_packet(running, receiver):
    resolver = FakeResolver("127.0.0.1", "127.0.0.2")  # only 127.0.0.1/32 is allowed
    service, api = running(resolver)
    port = receiver.server.server_address[1]
    api("PUT", "/api/clients/a/webhook", json={"url": f"http://{NAME}:{port}/hook", "secret": SECRET})
    first = service.publish("a", EventType.MESSAGE, {"n": 1})
    receiver.wait_for(lambda: receiver.delivered("a") == [first.id], what="the first delivery")
    second = service.publish("a", EventType.MESSAGE, {"n": 2})
    status = settled_status(service, receiver, second.id, "the refused attempt recorded")
    assert (status.delivery.value, status.last_status) == ("pending", None)
    assert status.last_error == ("The webhook's host resolves to a loopback address (127.0.0.0/8), "
                                 "which is not allowed.")
    assert len(receiver.attempts("a")) == 1, "nothing reached the receiver after the rebinding"


def test_the_global_webhook_from_the_settings_is_trusted(sqlite_store, receiver):
    service = EventService(sqlite_store, global_hook=WebhookConfig(receiver.url("/global"), SECRET),
                           policy=FAST, poll_seconds=0.2)  # the default policy refuses loopback
    service.start()
    try:
        service.publish("a", EventType.MESSAGE, {})
        receiver.wait_for(lambda: receiver.delivered("a"), what="the delivery to the global webhook")
    finally:
        service.stop(timeout=5)


def test_an_attempt_that_raises_is_recorded_retried_given_up_and_logged_once_each(running, receiver, caplog):
    service, _ = running(policy=RetryPolicy(first=0.05, cap=0.1, give_up=1.0))
    raw = receiver.url("/p\u00e4th")  # stored by an older version, unchecked: http.client cannot send it
    service.directory.save(WebhookConfig(raw, SECRET, client_id="a"))
    caplog.set_level(logging.DEBUG, logger="wamulti.hearing.courier")
    event = service.publish("a", EventType.MESSAGE, {})

    def failed():
        status = next(s for s in service.list_events(limit=10).events if s.event.id == event.id)
        return status if status.delivery.value == "failed" else None
    status = receiver.wait_for(failed, timeout=10, what="the give-up")
    assert status.attempts >= 3 and status.last_error == "The request could not be made (UnicodeEncodeError)."
    records = [r for r in caplog.records if event.id in r.getMessage()]
    assert [r.levelname for r in records if r.levelno >= logging.WARNING] == ["WARNING", "ERROR"]
    assert len(records) == status.attempts and not any(r.exc_info for r in records)


# ---- secrets -------------------------------------------------------------------------------------
def test_a_password_in_the_url_is_masked_in_every_answer_and_log_and_still_sent(running, receiver, caplog):
    service, api = running()
    caplog.set_level(logging.DEBUG)
    receiver.answer("/hook", lambda hit: 500)
    url = receiver.url("/hook").replace("http://", "http://user:s3cret-pw@")
    put = api("PUT", "/api/clients/a/webhook", json={"url": url, "secret": SECRET}).get_json()
    shown = receiver.url("/hook").replace("http://", "http://user:****@")
    assert put["url"] == shown and api("GET", "/api/clients/a/webhook").get_json()["url"] == shown
    event = service.publish("a", EventType.MESSAGE, {})
    settled_status(service, receiver, event.id, "a failed attempt")
    assert receiver.attempts("a")[0].headers["authorization"] == "Basic dXNlcjpzM2NyZXQtcHc="
    assert "s3cret-pw" not in api("GET", "/api/events").get_data(as_text=True)
    assert "s3cret-pw" not in caplog.text and SECRET not in caplog.text


# ---- HTTPS: SNI and the certificate on the name, TCP to the vetted address ---------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for NAME (made with the openssl command)."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={NAME}",
                    "-addext", f"subjectAltName=DNS:{NAME}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class TlsReceiver:
    """An HTTPS receiver on 127.0.0.1 answering 204; records the SNI names and Host headers it saw."""

    def __init__(self, cert, key):
        self.server_names, self.hosts = [], []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="test-tls-receiver", daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_https_keeps_sni_and_the_certificate_check_on_the_name(certificate):
    cert, key = certificate
    tls = TlsReceiver(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    policy = DestinationPolicy(allowed_networks("127.0.0.1/32"), resolver=FakeResolver("127.0.0.1"))
    try:
        outcome = WebhookSender(5.0, ssl_context=trusting, destinations=policy).post(
            f"https://{NAME}:{tls.port}/hook", SECRET, "evt_1", "{}")
        assert outcome.status == 204 and tls.server_names == [NAME] and tls.hosts == [f"{NAME}:{tls.port}"]
        other = DestinationPolicy(allowed_networks("127.0.0.1/32"), resolver=FakeResolver("127.0.0.1"))
        refused = WebhookSender(5.0, ssl_context=trusting, destinations=other).post(
            f"https://other.example.test:{tls.port}/hook", SECRET, "evt_2", "{}")
        assert refused.status is None and refused.error.startswith("TLS error")
    finally:
        tls.close()
