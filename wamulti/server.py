"""Process entry point: settings, logging, store, backend, registry, app, waitress, clean stop."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass

from .config import ConfigError, Settings, load_settings

log = logging.getLogger("wamulti")

STORE_WAIT_SECONDS = 30.0
# the parts of wamulti/seams/waitress_internals.py the service uses; each pays (bench/README.md): `channel` in server
# CPU per accepted send, `passes` in the p99 of status GETs during a burst of sends
WAITRESS_SEAMS: frozenset = frozenset({"channel", "passes"})


def configure_logging(level: str) -> None:
    """One stderr handler for everything, set up before any library (neonize) can claim logging."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" noise under load


def announce_generated_key(settings: Settings) -> None:
    """Show a generated key once on the console (never in a log) with a hint to make it permanent."""
    if settings.api_key_generated:
        print(f"No API_KEY set; generated one for this run: {settings.api_key}\n"
              f"Set API_KEY in .env to keep a fixed key.", flush=True)


def use_prompt_aware_logging(prompter) -> None:
    """Log lines must not land on the line of a waiting console prompt: swap the stderr handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stderr:
            replacement = prompter.log_handler(sys.stderr)
            replacement.setFormatter(handler.formatter)
            replacement.setLevel(handler.level)
            root.removeHandler(handler)
            root.addHandler(replacement)


class StopSignal:
    """Ends waitress's serving loop on the first SIGINT/SIGTERM, the way waitress is stopped: its
    `server.run()` returns when SystemExit is raised inside it. Until the loop runs (start-up, the
    clients' restore) a signal is only remembered, so start-up is never cut off half-way."""

    def __init__(self):
        self.name: str | None = None
        self.serving = False

    def __call__(self, signum, frame) -> None:
        if self.name is not None:  # a second signal: the stop is already under way
            return
        self.name = signal.Signals(signum).name
        if self.serving:
            raise SystemExit(0)

    @classmethod
    def install(cls) -> "StopSignal":
        stop = cls()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return stop

    @staticmethod
    def ignore() -> None:
        """While shutting down, a second Ctrl-C must not interrupt the final snapshots."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def serve(self, run) -> None:
        """Run waitress's loop (`run`: server.run or the seam's) on this, the main, thread until a stop signal."""
        self.serving = True
        try:
            if self.name is None:  # else a signal came during start-up
                run()  # catches the handler's SystemExit and stops the request threads
        except SystemExit:  # the signal came between the check and run()
            pass
        finally:
            self.serving = False


def _open_store(settings: Settings):
    """The session store, or None after saying on stderr why it cannot be used."""
    from .store import StoreError, open_store
    from .store.data_dir_lock import lock_data_dir

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock_data_dir(settings.data_dir)  # one server per DATA_DIR: its session files, its instance id
        store = open_store(settings, wait_seconds=STORE_WAIT_SECONDS, log=log)
    except StoreError as exc:
        print(f"wamulti: the session store cannot be used: {exc}", file=sys.stderr)
        return None
    if store.kind == "sqlite":
        log.info("no DB_HOST set: using the embedded SQLite store in %s", settings.data_dir)
    return store


def serve(settings: Settings, customize_app=None, waitress_seams: frozenset = WAITRESS_SEAMS) -> int:
    """Run the service until SIGINT/SIGTERM; return the exit code.

    customize_app(app) may add routes before serving (the API-overhead benchmark's bare endpoint);
    waitress_seams: the parts of wamulti/seams/waitress_internals.py to use (the benchmarks measure without).
    """
    from .web.app import create_app
    from .web.http_server import build_http_server, serving_loop

    store = _open_store(settings)
    if store is None:
        return 2
    service = _Service.build(settings, store)
    app = create_app(settings, service.metrics.wrap_registry(service.registry), service.events, service.metrics,
                     service.keys, service.media, service.cluster)
    if customize_app is not None:
        customize_app(app)
    server = build_http_server(settings, app, waitress_seams)
    stop = StopSignal.install()
    announce_generated_key(settings)
    freeze_startup_objects()
    try:
        start_clients(settings, service, server.effective_port)
        log.info("listening on http://%s:%s (backend %s, store %s, console %s)", settings.host,
                 server.effective_port, service.backend.name, store.kind,
                 "on" if service.prompter.enabled else "off")
        stop.serve(serving_loop(server, waitress_seams))
        log.info("%s received: stopping", stop.name)
    finally:
        StopSignal.ignore()
        server.close()  # the listening socket: new callers are refused from here on
        service.close()
        log.info("stopped")
    return 0


@dataclass
class _Service:
    """The long-lived parts behind the API, closed in reverse order of their making."""

    store: object
    backend: object
    prompter: object
    registry: object
    events: object
    metrics: object
    upkeep: object
    keys: object
    media: object  # MediaLibrary: the media store (wamulti/media)
    media_upkeep: object
    intake: object  # MediaIntake: incoming media's downloads
    cluster: object = None  # ClusterNode with CLUSTER=on (wamulti/cluster), started once the port is known

    @classmethod
    def build(cls, settings: Settings, store) -> "_Service":
        from .sessions import snapshot_helpers
        from . import transcoding
        from .backends import make_backend
        from .console import ConsolePrompter
        from .hearing.courier import where
        from .hearing.event_service import EventService
        from .keys import ApiKeys
        from .metrics.prometheus_metrics import Metrics
        from .sending.queue_upkeep import QueueUpkeep

        metrics = Metrics()
        store = metrics.wrap_store(store)  # closed through the wrapper: close() passes through
        backend = make_backend(settings)
        snapshot_helpers.configure(settings.snapshot_helpers)
        transcoding.configure(settings.transcode_concurrency)
        prompter = ConsolePrompter(settings.pairing_console, settings.pairing_timeout)
        if prompter.enabled:
            use_prompt_aware_logging(prompter)
        events = EventService.from_settings(settings, store)
        events.start()  # before any client runs, so what the clients hear is delivered at once
        if settings.webhook_url:
            log.info("global webhook: events %s to %s", ",".join(settings.webhook_events),
                     where(settings.webhook_url))
        sink = metrics.wrap_sink(events)
        media, media_upkeep = _media_library(settings, store)
        intake = media_intake(settings, store, media)
        registry = client_registry(settings, store, backend, prompter, sink, media, intake)
        metrics.watch(registry, events)
        upkeep = QueueUpkeep(store, sink, settings.send_expiry)  # expiry and pruning for every client
        upkeep.start()
        # scoped keys read the metered store: their lookups show in the store metrics like any call
        return cls(store, backend, prompter, registry, events, metrics, upkeep, ApiKeys(store), media,
                   media_upkeep, intake, cluster_node(settings, store, registry))

    def close(self) -> None:
        if self.cluster is not None:  # hand every client over first: final snapshots, leases released
            self.cluster.stop()
        self.registry.stop_all()
        self.intake.close()  # downloads still queued stay pending (retriable)
        self.upkeep.stop()
        self.media_upkeep.stop()
        self.events.stop()  # after the clients, whose last state changes are events too
        self.prompter.close()
        self.backend.close()
        self.store.close()


def start_clients(settings: Settings, service: _Service, port: int) -> None:
    """Run the stored clients: all of them (one instance), or, with CLUSTER=on, those whose leases this
    instance takes (wamulti/cluster)."""
    if service.cluster is None:
        service.registry.restore_all()
        return
    service.metrics.watch_cluster(service.cluster.keeper)
    service.cluster.start(f"http://{settings.host}:{port}")


def cluster_node(settings: Settings, store, registry):
    """CLUSTER=on: this instance's part in the cluster (wamulti/cluster), started once the port is known."""
    if not settings.cluster:
        return None
    from .clients.instance_id import instance_id
    from .cluster.cluster_node import ClusterNode
    from .cluster.placement import PlacementRules

    return ClusterNode(store, registry, instance_id(settings.data_dir),
                       rules=PlacementRules(max_clients=settings.max_clients_per_instance))


def client_registry(settings: Settings, store, backend, prompter, sink, media, intake):
    """The registry of every client, with what their workers share."""
    from .clients.calls import CallPolicy
    from .clients.instance_id import instance_id
    from .clients.registry import ClientRegistry
    from .sending.send_options import send_options

    return ClientRegistry(store=store, backend=backend, prompter=prompter, data_dir=settings.data_dir,
                          pairing_timeout=settings.pairing_timeout, events=sink,
                          send_options=send_options(settings, instance_id(settings.data_dir)),
                          wait_slots=settings.http_threads // 2, media=media_kit(settings, media), intake=intake,
                          calls=CallPolicy(settings.reject_calls, settings.reject_calls_message or None))


def media_kit(settings: Settings, media):
    """What sends of media use: the media store and the conversions (wamulti.transcoding)."""
    from . import transcoding
    from .sending.media_kit import MediaKit

    return MediaKit(media, transcoding, uploads_at_once=settings.media_uploads_at_once,
                    reuse_hours=settings.media_upload_reuse_hours, max_bytes=settings.media_max_bytes)


def media_intake(settings: Settings, store, media):
    """Incoming media's downloads (hearing/media_intake.py) into the media store."""
    from .hearing.media_intake import MediaIntake, MediaPolicy

    return MediaIntake(media, store, MediaPolicy.from_settings(settings))


def _media_library(settings: Settings, store):
    """The media library and its started upkeep (retention), which keeps what a queued send or an
    undelivered event still refers to."""
    from .media.library import MediaLibrary
    from .media.media_upkeep import MediaUpkeep
    from .media.references import MediaReferences

    media = MediaLibrary.from_settings(settings, store)
    if settings.public_base_unreachable:
        log.warning("PUBLIC_URL is not set: media links in events name %s, which receivers cannot reach; "
                    "set PUBLIC_URL to the address they use", settings.public_base)
    upkeep = MediaUpkeep(media, MediaReferences(store.media_ids_in_open_sends, store.media_ids_in_undelivered_events))
    upkeep.start()
    return media, upkeep


def freeze_startup_objects() -> None:
    """Take what start-up made (modules, the app, schemas) out of the garbage collector's scans: a full
    collection under load otherwise walks them all while holding the GIL (40 ms at 100 clients, a
    stall every request waits out). Called before the clients start, so nothing a client makes (and
    may drop later) is frozen."""
    gc.collect()
    gc.freeze()


def main() -> int:
    """Console entry point (`wamulti`, `python wsgi.py`)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"wamulti: invalid setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    threading.current_thread().name = "main"
    code = serve(settings)
    exit_now_if_threads_linger(code)
    return code


def exit_now_if_threads_linger(code: int) -> None:
    """The library runs each connection on a non-daemon thread; one stuck in a dial must not hold the exit."""
    lingering = [t.name for t in threading.enumerate() if not t.daemon and t is not threading.current_thread()]
    if lingering:
        log.warning("exiting with %d library threads still running: %s", len(lingering), ", ".join(lingering[:10]))
        logging.shutdown()
        os._exit(code)
