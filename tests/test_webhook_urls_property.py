"""Property: whatever URL a key holder sets as a webhook, it is either refused at PUT with a JSON
error and nothing stored, or each attempt to post to it ends recorded within seconds (delivered to
the loopback receiver, or failed with a sentence). Generated names resolve through a resolver
double to 127.0.0.1 (allowed) or 127.0.0.2 (refused), so nothing leaves loopback and no real DNS
is asked."""

from __future__ import annotations

import itertools
import socket
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fake_registry import FakeRegistry
from tests.test_api import KEY
from tests.webhook_receiver import Receiver
from wamulti.web.app import create_app
from wamulti.config import Settings
from wamulti.destinations.policy import DestinationPolicy, allowed_networks
from wamulti.hearing.event_fields import new_secret
from wamulti.hearing.event_model import EventType
from wamulti.hearing.retry import RetryPolicy
from wamulti.hearing.event_service import EventService
from wamulti.store.store_api import ClientRecord

SECRET = new_secret()
REFUSED_AT_PUT = {"invalid_request", "destination_not_allowed"}


class FakeResolver:
    """A getaddrinfo double: a name maps to 127.0.0.1 or 127.0.0.2 by its checksum, never to DNS."""

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        address = "127.0.0.1" if zlib.crc32(host.encode()) % 2 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


LABEL_CHARS = st.sampled_from("abcxyz019-_é☃ÄßＡ.。%")
labels = st.text(LABEL_CHARS, min_size=0, max_size=70)
names = st.lists(labels, min_size=1, max_size=5).map(".".join)
literals = st.sampled_from(["127.0.0.1", "0x7f.1", "2130706433", "0177.0.0.1", "127.1", "127.0.0.1.", "[::1]",
                            "10.0.0.1", "169.254.169.254", "[::ffff:127.0.0.1]", "[fe80::1%25lo]", "0",
                            "[64:ff9b::a9fe:a9fe]", "①②⑦.0.0.1", "LOCALHOST", "[2001:db8::1]", "[::1"])
hosts = st.one_of(literals, names, names, st.text(min_size=1, max_size=20))
userinfo = st.one_of(st.just(""), st.text(st.sampled_from("ab:%@é1"), max_size=8).map(lambda u: u + "@"))
printable = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), max_codepoint=0x2FFF)
paths = st.one_of(st.text(printable, max_size=30), st.text(st.characters(blacklist_categories=("Cs",)), max_size=10))


@st.composite
def webhook_urls(draw, port: int) -> str:
    # weighted by repetition: most URLs should get as far as a delivery attempt. Always a port: an
    # attempt never goes to a service that may listen on this machine's port 80 or 443
    scheme = draw(st.sampled_from(["http", "http", "HTTP", "https", "https", "ftp"]))
    ports = st.sampled_from([f":{port}"] * 4 + [f":000{port}", ":0", ":99999", ":-1", ":x", ":"])
    return f"{scheme}://{draw(userinfo)}{draw(hosts)}{draw(ports)}/{draw(paths)}"


@pytest.fixture
def world(sqlite_store):
    """A started service (loopback 127.0.0.1/32 allowed), the routes on it, and a receiver."""
    receiver = Receiver(SECRET)
    destinations = DestinationPolicy(allowed_networks("127.0.0.1/32"), resolver=FakeResolver())
    service = EventService(sqlite_store, policy=RetryPolicy(first=0.05, cap=2.0), poll_seconds=0.2,
                           send_timeout=3.0, destinations=destinations)
    service.start()
    registry = FakeRegistry()
    client = create_app(Settings(api_key=KEY), registry, service).test_client()
    yield service, registry, client, receiver
    service.stop(timeout=5)
    receiver.close()


def attempted(service, event_id):
    status = next(s for s in service.list_events(limit=1000).events if s.event.id == event_id)
    return status if status.attempts >= 1 or status.delivery.value == "delivered" else None


def test_every_webhook_url_is_refused_at_put_or_its_attempts_end_recorded(world, sqlite_store):
    service, registry, client, receiver = world
    ids = itertools.count()
    headers = {"x-api-key": KEY}

    @settings(max_examples=80, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(url=webhook_urls(receiver.server.server_address[1]))
    def check(url):
        client_id = f"c{next(ids)}"
        registry.add(client_id)
        sqlite_store.create_client(ClientRecord(client_id, "READY"))
        put = client.put(f"/api/clients/{client_id}/webhook", json={"url": url, "secret": SECRET}, headers=headers)
        if put.status_code == 400:
            body = put.get_json()
            assert set(body) == {"error", "message"} and body["error"] in REFUSED_AT_PUT
            assert body["message"].endswith(".")
            assert client.get(f"/api/clients/{client_id}/webhook", headers=headers).status_code == 404
            return
        assert put.status_code == 200, (url, put.get_json())
        event = service.publish(client_id, EventType.MESSAGE, {})
        status = receiver.wait_for(lambda: attempted(service, event.id), timeout=15, what=f"an attempt for {url!r}")
        assert status.delivery.value == "delivered" or (status.last_error and "Traceback" not in status.last_error)
        client.delete(f"/api/clients/{client_id}/webhook", headers=headers)  # its retries stop (event -> none)

    check()
