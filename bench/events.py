"""Events: ingestion into MariaDB, webhook deliveries per second, event-to-webhook latency, in one run.

    python -m bench.events     # targets: >= 1,000 events/s stored, >= 300 deliveries/s, p99 <= 500 ms at 100/s

The receiver is a separate process on 127.0.0.1 (so it does not share this process's GIL) that
checks every signature with standardwebhooks' own verifier. The delivery settings are the defaults.
"""

from __future__ import annotations

import multiprocessing
import statistics
import threading
import time

from bench.common import report, start_mariadb
from wamulti.hearing.webhook_directory import WebhookConfig, WebhookDirectory
from wamulti.hearing.event_fields import new_secret
from wamulti.hearing.event_log import EventLog
from wamulti.hearing.event_service import EventService
from wamulti.store import open_store

INGEST_EVENTS, INGEST_THREADS, INGEST_CLIENTS, SINGLE_EVENTS = 8000, 8, 64, 2000
DELIVERY_EVENTS, DELIVERY_CLIENTS = 3000, 30
LATENCY_EVENTS, LATENCY_RATE, LATENCY_CLIENTS = 1000, 100.0, 10
DATA = {"id": "3EB0C767D097B7C7C030", "chat": "491511234567@s.whatsapp.net", "from": "491511234567",
        "fromJid": "491511234567@s.whatsapp.net", "isGroup": False, "fromMe": False, "pushName": "Bench",
        "kind": "text", "text": "a message of ordinary length, with an emoji 👋", "quotedId": None}


def receive(secret: str, port_pipe, arrivals) -> None:
    """The receiver process: verify, answer 204, report (event id, client id, arrival time, verified)."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from standardwebhooks import Webhook

    hook = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            at = time.time()
            try:
                event, ok = hook.verify(body, dict(self.headers)), True
            except Exception:
                event, ok = json.loads(body), False
            arrivals.put((event["id"], event["clientId"], at, ok))
            self.send_response(204 if ok else 400)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_pipe.send(server.server_address[1])
    server.serve_forever()


class ReceiverProcess:
    """The receiver in a child process, and a thread here collecting what it reports."""

    def __init__(self, secret: str):
        ctx = multiprocessing.get_context("spawn")
        self._queue = ctx.Queue()
        ours, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=receive, args=(secret, theirs, self._queue), daemon=True)
        self.proc.start()
        self.url = f"http://127.0.0.1:{ours.recv()}/hook"
        self.arrivals: list[tuple[str, str, float, bool]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        while True:
            item = self._queue.get()
            with self._cond:
                self.arrivals.append(item)
                self._cond.notify_all()

    def take(self, count: int, timeout: float) -> list[tuple[str, str, float, bool]]:
        """Wait for `count` arrivals (raising after timeout); return them and start over."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.arrivals) < count:
                if not self._cond.wait(max(0.0, deadline - time.monotonic())):
                    raise RuntimeError(f"only {len(self.arrivals)} of {count} deliveries within {timeout}s")
            taken, self.arrivals = self.arrivals, []
        return taken

    def stop(self) -> None:
        self.proc.kill()
        self.proc.join(5)


def fresh_store(mariadb):
    return open_store(mariadb.settings(mariadb.new_database(), db_pool_size=16))


def publish_many(log, count: int, threads: int, clients: int) -> float:
    """Publish `count` events from `threads` threads (each owning its clients); return seconds taken."""
    def work(k: int) -> None:
        mine = [f"c{c:03d}" for c in range(k, clients, threads)]
        for n in range(count // threads):
            log.publish(mine[n % len(mine)], "message", DATA)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - started


def ingest(mariadb, hook: WebhookConfig) -> list[dict]:
    """Events stored per second: 8 publishing threads, then one."""
    store = fresh_store(mariadb)
    log = EventLog(store, WebhookDirectory(store, hook))  # pending rows, as with a webhook; nothing delivers
    publish_many(log, 400, INGEST_THREADS, INGEST_CLIENTS)  # warm the pool and the caches
    many = INGEST_EVENTS / publish_many(log, INGEST_EVENTS, INGEST_THREADS, INGEST_CLIENTS)
    one = SINGLE_EVENTS / publish_many(log, SINGLE_EVENTS, 1, 8)
    store.close()
    return [{"measure": f"events stored/s ({INGEST_THREADS} publishing threads)", "result": round(many),
             "target": ">= 1000", "met": many >= 1000},
            {"measure": "events stored/s (1 publishing thread)", "result": round(one), "target": "", "met": ""}]


def in_order(arrivals, published: dict[str, list[str]]) -> bool:
    """Every event arrived once, each client's in publishing order."""
    got: dict[str, list[str]] = {}
    for event_id, client_id, _, _ in sorted(arrivals, key=lambda a: a[2]):
        got.setdefault(client_id, []).append(event_id)
    return got == published


def deliveries(mariadb, receiver: ReceiverProcess, hook: WebhookConfig) -> tuple[dict, bool]:
    """Deliveries per second of a stored backlog, from the start of delivery to the last arrival."""
    store = fresh_store(mariadb)
    service = EventService(store, global_hook=hook)
    published: dict[str, list[str]] = {}
    for n in range(DELIVERY_EVENTS):
        client_id = f"d{n % DELIVERY_CLIENTS:02d}"
        published.setdefault(client_id, []).append(service.publish(client_id, "message", DATA).id)
    started = time.time()
    service.start()
    arrivals = receiver.take(DELIVERY_EVENTS, timeout=300)
    rate = DELIVERY_EVENTS / (max(a[2] for a in arrivals) - started)
    service.stop()
    store.close()
    ok = in_order(arrivals, published) and all(a[3] for a in arrivals)
    return {"measure": f"webhook deliveries/s ({DELIVERY_CLIENTS} clients, backlog of {DELIVERY_EVENTS})",
            "result": round(rate), "target": ">= 300", "met": rate >= 300}, ok


def latency(mariadb, receiver: ReceiverProcess, hook: WebhookConfig) -> tuple[list[dict], bool]:
    """Publish-to-arrival latency with events published at LATENCY_RATE per second."""
    store = fresh_store(mariadb)
    service = EventService(store, global_hook=hook)
    service.start()
    sent: dict[str, float] = {}
    published: dict[str, list[str]] = {}
    begin = time.monotonic()
    for n in range(LATENCY_EVENTS):
        time.sleep(max(0.0, begin + n / LATENCY_RATE - time.monotonic()))  # the load's pace
        client_id, at = f"l{n % LATENCY_CLIENTS}", time.time()
        event_id = service.publish(client_id, "message", DATA).id
        sent[event_id] = at
        published.setdefault(client_id, []).append(event_id)
    arrivals = receiver.take(LATENCY_EVENTS, timeout=120)
    service.stop()
    store.close()
    ms = [(at - sent[event_id]) * 1000 for event_id, _, at, _ in arrivals]
    p50, p99 = statistics.median(ms), statistics.quantiles(ms, n=100)[98]
    ok = in_order(arrivals, published) and all(a[3] for a in arrivals)
    return [{"measure": f"latency p50 ms ({LATENCY_RATE:g} events/s)", "result": round(p50, 1), "target": "",
             "met": ""},
            {"measure": f"latency p99 ms ({LATENCY_RATE:g} events/s)", "result": round(p99, 1), "target": "<= 500",
             "met": p99 <= 500}], ok


def main() -> None:
    secret = new_secret()
    mariadb = start_mariadb()
    receiver = None
    try:
        receiver = ReceiverProcess(secret)
        hook = WebhookConfig(receiver.url, secret)
        rows = ingest(mariadb, hook)
        row, delivered_ok = deliveries(mariadb, receiver, hook)
        more, latency_ok = latency(mariadb, receiver, hook)
        rows += [row, *more]
    finally:
        if receiver is not None:
            receiver.stop()
        mariadb.destroy()
    report("events", rows, {"every delivery verified, once, in order per client": delivered_ok and latency_ok,
                            "store": "MariaDB (throwaway, loopback)", "receiver": "separate process, loopback"})


if __name__ == "__main__":
    main()
