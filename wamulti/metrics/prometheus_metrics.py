"""Prometheus metrics: a registry of our own, counters at a few seams, and state read at scrape time.

Nothing here is called on a hot path inside the worker: sends are counted by wrapping the
registry the API calls, store calls by wrapping the store, received messages by wrapping the
sink the workers publish to. Labels are per client (bounded by the clients that exist; a deleted
client's series are removed), never per recipient or message.
"""

from __future__ import annotations

import contextlib
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..clients.states import State
from ..errors import IdempotencyKeyReused, NotFound, NotReady, QueueFull, RecipientNotOnWhatsApp, Upstream
from ..hearing.event_model import DeliveryState, EventType

SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SEND_FAILURES = ((NotReady, "not_ready"), (QueueFull, "queue_full"), (IdempotencyKeyReused, "idempotency_key_reused"),
                 (RecipientNotOnWhatsApp, "recipient_not_on_whatsapp"), (Upstream, "upstream"))
# failed acks (a send that failed after its caller stopped waiting): their reason code, bounded
ACK_FAILURES = {"recipient_not_on_whatsapp": "recipient_not_on_whatsapp", "upstream_error": "upstream",
                "expired": "expired", "outcome_unknown": "outcome_unknown"}
FAILURE_REASONS = sorted({*(r for _, r in SEND_FAILURES), *ACK_FAILURES.values(), "error"})
WEBHOOK_OUTCOMES = {DeliveryState.DELIVERED.value: "delivered", DeliveryState.FAILED.value: "failed",
                    DeliveryState.PENDING.value: "retry"}


class Metrics:
    """Every metric of one server process, in its own CollectorRegistry (tests may make many)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.sent = Counter("wamulti_messages_sent_total", "Messages WhatsApp accepted (server acks), per client.", ["client"], registry=r)
        self.send_failed = Counter("wamulti_messages_failed_total", "Sends refused or failed, per client and "
                                   "reason (" + ", ".join(FAILURE_REASONS) + ").", ["client", "reason"], registry=r)
        self.received = Counter("wamulti_messages_received_total", "Messages received, per client.", ["client"],
                                registry=r)
        self.send_seconds = Histogram("wamulti_send_duration_seconds", "Time a send request waited for "
                                      "its answer (200 or an error; not 202), from the API's call on.", buckets=SEND_BUCKETS,
                                      registry=r)
        self.store_seconds = Histogram("wamulti_store_call_duration_seconds", "Time of one store call, per "
                                       "operation.", ["operation"], buckets=STORE_BUCKETS, registry=r)
        self.store_errors = Counter("wamulti_store_errors_total", "Store calls that raised, per operation.",
                                    ["operation"], registry=r)
        self.webhook = Counter("wamulti_webhook_attempts_total", "Webhook delivery attempts recorded, per client "
                               "and outcome (delivered, failed for good, retry).", ["client", "outcome"], registry=r)
        self._process = ProcessCollector(registry=r)  # process_resident_memory_bytes, process_open_fds, CPU, start time
        self._state = StateCollector(self)
        r.register(self._state)

    # ---- the seams -------------------------------------------------------------------------------
    def wrap_store(self, store):
        from .metered_store import MeteredStore
        return MeteredStore(store, self)

    def wrap_registry(self, registry):
        return MeteredRegistry(registry, self)

    def wrap_sink(self, sink):
        return CountingSink(sink, self) if sink is not None else None

    def watch(self, registry, events=None) -> None:
        """Read these at scrape time: the clients and their states, and the webhook backlog."""
        self._state.registry, self._state.events = registry, events

    # ---- the same figures, read for the dashboard ----------------------------------------------------
    def client_totals(self) -> dict[str, dict[str, float]]:
        """Each client's `sent` and `failed` totals: the samples of the counters /metrics exposes."""
        totals: dict[str, dict[str, float]] = {}
        for counter, field in ((self.sent, "sent"), (self.send_failed, "failed")):
            for family in counter.collect():
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        row = totals.setdefault(sample.labels["client"], {"sent": 0.0, "failed": 0.0})
                        row[field] += sample.value
        return totals

    def process_figures(self) -> dict[str, float | None]:
        """The process gauges of /metrics (resident memory, open descriptors; None where /proc is not there)."""
        values = {sample.name: sample.value for family in self._process.collect() for sample in family.samples}
        return {"residentMemoryBytes": values.get("process_resident_memory_bytes"),
                "openFds": values.get("process_open_fds")}

    def webhook_backlog(self) -> dict[str, int] | None:
        """The webhook backlog gauges of /metrics (None without an events service)."""
        events = self._state.events
        if events is None or not hasattr(events, "backlog"):
            return None
        backlog = events.backlog()
        return {"held": backlog["held"], "pendingClients": backlog["pending_clients"]}

    def watch_cluster(self, keeper) -> None:
        """CLUSTER=on: read this instance's leases at scrape time (a wamulti.cluster LeaseKeeper)."""
        self._state.keeper = keeper

    # ---- what the seams report ---------------------------------------------------------------------
    def webhook_results(self, client_id: str, results) -> None:
        for result in results:
            outcome = WEBHOOK_OUTCOMES.get(result.delivery)
            if outcome is not None and result.attempted:
                self.webhook.labels(client_id, outcome).inc()

    def forget(self, client_id: str) -> None:
        """A deleted client: drop its series so the label set stays bounded by the clients there are."""
        for metric, extra in ((self.sent, ()), (self.received, ()),
                              (self.send_failed, FAILURE_REASONS),
                              (self.webhook, list(WEBHOOK_OUTCOMES.values()))):
            for labels in ([(client_id, e) for e in extra] if extra else [(client_id,)]):
                try:
                    metric.remove(*labels)
                except KeyError:
                    pass


class MeteredRegistry:
    """The registry as the API sees it, with sends timed and counted; everything else passes through."""

    def __init__(self, registry, metrics: Metrics):
        self._registry, self._metrics = registry, metrics

    def __getattr__(self, name):
        return getattr(self._registry, name)

    def send_text(self, client_id: str, to: str, text: str, **options):
        return self._metered(client_id, lambda: self._registry.send_text(client_id, to, text, **options))

    def send_message(self, client_id: str, request, **options):
        return self._metered(client_id, lambda: self._registry.send_message(client_id, request, **options))

    def _metered(self, client_id: str, send):
        """Refusals and failures a waiting request saw are counted here; sends that went out are
        counted from their `server` ack (CountingSink), so queued sends count when they go."""
        m = self._metrics
        started = time.perf_counter()
        try:
            answer = send()
        except NotFound:
            raise  # no such client: no series for an id that does not exist
        except Exception as exc:
            reason = next((name for cls, name in SEND_FAILURES if isinstance(exc, cls)), "error")
            m.send_failed.labels(client_id, reason).inc()
            m.send_seconds.observe(time.perf_counter() - started)
            raise
        if getattr(answer, "wa_message_id", None) is not None:  # a Sent, not an Accepted (202)
            m.send_seconds.observe(time.perf_counter() - started)
        return answer

    def delete(self, client_id: str):
        outcome = self._registry.delete(client_id)
        self._metrics.forget(client_id)
        return outcome


class CountingSink:
    """The workers' event sink, counting received messages on the way through."""

    def __init__(self, sink, metrics: Metrics):
        self._sink, self._metrics = sink, metrics

    def __getattr__(self, name):
        return getattr(self._sink, name)

    def publish(self, client_id: str, type, data):
        event = self._sink.publish(client_id, type, data)
        if type == EventType.MESSAGE:
            self._metrics.received.labels(client_id).inc()
        elif type == EventType.MESSAGE_ACK and data.get("messageId") is not None:  # acks of our own sends
            if data.get("status") == "server":
                self._metrics.sent.labels(client_id).inc()
            elif data.get("status") == "failed":
                code = (data.get("reason") or "").partition(":")[0]
                self._metrics.send_failed.labels(client_id, ACK_FAILURES.get(code, "error")).inc()
        return event


class StateCollector:
    """Gauges read when Prometheus scrapes: clients per state, each client's state and snapshot lag,
    and the webhook backlog."""

    def __init__(self, metrics: Metrics):
        self._metrics = metrics
        self.registry = None
        self.events = None
        self.keeper = None

    def describe(self):
        return []  # collected only on scrape: the registry is not there yet when this is registered

    def collect(self):
        if self.registry is not None:
            yield from self._clients()
        if self.keeper is not None:
            yield from self._leases()
        if self.events is not None and hasattr(self.events, "backlog"):
            backlog = self.events.backlog()
            held = GaugeMetricFamily("wamulti_webhook_backlog_held", "Events published but not yet written to "
                                     "the store (it was unreachable).")
            held.add_metric([], backlog["held"])
            lanes = GaugeMetricFamily("wamulti_webhook_backlog_clients", "Clients with pending webhook "
                                      "deliveries waiting for a free lane.")
            lanes.add_metric([], backlog["pending_clients"])
            yield held
            yield lanes

    def _leases(self):
        """CLUSTER=on: this instance's leases and how its renewals go."""
        held = GaugeMetricFamily("wamulti_cluster_leases_held", "Client leases this instance holds now.")
        held.add_metric([], len(self.keeper.held()))
        age = GaugeMetricFamily("wamulti_cluster_lease_renewal_age_seconds", "Seconds since the last successful "
                                "lease renewal was sent (the self-fence comes at lease - margin: 10 s).")
        age.add_metric([], self.keeper.renewal_age())
        failed = GaugeMetricFamily("wamulti_cluster_lease_renewals_failed", "Lease renewals failed in a row.")
        failed.add_metric([], self.keeper.failed_renewals)
        yield from (held, age, failed)

    def _clients(self):
        """One series per client at most (its current state), and the snapshot lag only of clients whose
        stored copy is behind: 5,000 clients used to make 35,000 lines (every state's 0, every lag's 0)."""
        # the clients this instance runs (CLUSTER=on: list() shows the other instances' too)
        statuses = self.registry.list_here() if hasattr(self.registry, "list_here") else self.registry.list()
        per_state = GaugeMetricFamily("wamulti_clients", "Clients per state.", labels=["state"])
        for state in State:
            per_state.add_metric([state.value], sum(1 for s in statuses if s.state == state.value))
        client_state = GaugeMetricFamily("wamulti_client_state", "1 for the client's current state (no series "
                                         "for the other states).", labels=["client", "state"])
        lag = GaugeMetricFamily("wamulti_snapshot_lag_seconds", "Seconds the stored snapshot has been behind "
                                "the client's local session file (only clients behind; as the client reports it).",
                                labels=["client"])
        behind = 0
        for status in statuses:
            client_state.add_metric([status.client_id, status.state], 1.0)
            if status.snapshot_lag > 0:
                behind += 1
                lag.add_metric([status.client_id], status.snapshot_lag)
        yield per_state
        yield client_state
        yield lag
        yield GaugeMetricFamily("wamulti_snapshots_behind", "Clients whose stored snapshot is behind their "
                                "session file.", value=behind)
        yield GaugeMetricFamily("wamulti_snapshot_lag_max_seconds", "The largest snapshot lag of any client (0: "
                                "all in sync).", value=max((s.snapshot_lag for s in statuses), default=0.0))
        yield self._group_calls(statuses)

    def _group_calls(self, statuses):
        """Group metadata reads asked of WhatsApp per client (wamulti/groups/): never one per send."""
        family = CounterMetricFamily("wamulti_group_metadata_calls", "Group metadata reads asked of WhatsApp "
                                     "(group lists, a group's info, invite links).", labels=["client"])
        for status in statuses:
            with contextlib.suppress(Exception):  # deleted meanwhile, or a registry without groups
                family.add_metric([status.client_id], self.registry.groups(status.client_id).metadata_calls)
        return family
