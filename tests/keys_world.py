"""What the scoped-key tests share: an app over a real ClientRegistry (FakeBackend), a real
EventService and real ApiKeys on one store, with clients 'alice', 'bob' and 'carol' stored."""

from __future__ import annotations

from datetime import datetime, timedelta

from wamulti.web.app import create_app
from wamulti.config import Settings
from wamulti.hearing.event_service import EventService
from wamulti.keys import ApiKeys
from wamulti.metrics.prometheus_metrics import Metrics
from wamulti.store.store_api import ClientRecord
from wamulti.store.send_rows import OutboundRow
from wamulti.store.client_rows import utcnow
from wamulti.clients.states import CLOSED

ADMIN_KEY = "admin-key-0123456789abcdef"
CLIENTS = ("alice", "bob", "carol")


class SteppedClock:
    """A test double of the clock ApiKeys reads: naive UTC that moves only when a test says."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class World:
    """The app and what it runs on; `call` sends one request with a key (x-api-key, or Bearer)."""

    def __init__(self, store, registry, clock: SteppedClock | None = None):
        self.store, self.registry = store, registry
        self.events = EventService(store)  # its threads are not started: routes and stored state only
        self.keys = ApiKeys(store, clock=clock) if clock else ApiKeys(store)
        self.app = create_app(Settings(api_key=ADMIN_KEY), registry, self.events, Metrics(), self.keys)
        self.client = self.app.test_client()

    def call(self, method: str, path: str, key: str | None = ADMIN_KEY, bearer: bool = False, **kwargs):
        headers = {} if key is None else ({"Authorization": f"Bearer {key}"} if bearer else {"x-api-key": key})
        resp = self.client.open(path, method=method, headers=headers, **kwargs)
        text = resp.get_data(as_text=True)
        assert "Traceback" not in text and (key is None or key not in text)  # the presented key is never echoed
        return resp

    def new_key(self, *clients: str, label: str | None = None) -> str:
        """A scoped key made through the API (the admin's POST /api/keys)."""
        body = {"clients": list(clients), **({"label": label} if label else {})}
        resp = self.call("POST", "/api/keys", json=body)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.get_json()["key"]

    def queue_send(self, client_id: str, message_id: str) -> None:
        """A send of the client's in the outbound queue (what GET /api/messages/<id> reads)."""
        self.store.enqueue_send(OutboundRow(message_id, client_id, "+4915111111111", "hi"), 10, utcnow())


def make_world(store, make_registry, clock: SteppedClock | None = None) -> World:
    """Stored CLOSED, unpaired clients, registered (not started) by the registry's restore."""
    for client_id in CLIENTS:
        store.create_client(ClientRecord(client_id, CLOSED))
    registry = make_registry(console=False, store=store)
    registry.restore_all()
    return World(store, registry, clock)
