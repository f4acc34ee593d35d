"""GET /api/dashboard: what the dashboard's accounts and health views show, in one cheap answer.

Everything in it is in memory (the clients' states, their queues, the counters of /metrics) but the
store's ping; it is built at most once a second per key (overview_cache.py), and its ETag lets an
unchanged answer go as a bodiless 304. Scoped exactly
like GET /api/clients (web/scoped.py); the process-wide figures only for the admin key.
"""

from __future__ import annotations

from flask import Response, current_app, request
from flask_openapi3 import APIBlueprint, Tag

from ...errors import NotFound
from ..auth import SECURITY, check_api_key, client_scoped, current_principal
from ..registry_port import registry
from ..responses import responses
from ..routes.client_routes import client_json
from ..routes.metrics_routes import METRICS_EXTENSION
from .dashboard_models import Overview

bp = APIBlueprint("dashboard_overview", __name__, url_prefix="/api/dashboard", abp_tags=[Tag(name="dashboard")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)
MIB = 1 << 20
CACHE_EXTENSION = "wamulti.dashboard.overview"  # the app's OverviewCache
NOT_MODIFIED = {304: {"description": "Not modified: the If-None-Match ETag is still current."}}


def _clients(port, totals: dict) -> list[dict]:
    listed = []
    for status in port.list():
        try:
            queued = port.queue_length(status.client_id)
        except NotFound:  # deleted since the list was read
            continue
        counts = totals.get(status.client_id, {})
        listed.append({**client_json(status), "queueLength": queued,
                       "sent": int(counts.get("sent", 0)), "failed": int(counts.get("failed", 0))})
    return listed


def _health(port, clients: list[dict], metrics) -> dict:
    lags = [c["snapshotLagSeconds"] for c in clients if c["snapshotLagSeconds"] > 0]
    body = {"storeOk": port.health()["store_ok"], "store": port.store_kind,
            # the rule of /healthz's "snapshots", over the clients this key sees
            "snapshots": {"behind": len(lags), "maxLagSeconds": round(max(lags, default=0.0), 1)},
            "webhookBacklog": None, "residentMemoryBytes": None}
    if metrics is not None and current_principal().is_admin:
        memory = metrics.process_figures()["residentMemoryBytes"]
        # whole MiB: the exact figure moves with every allocation, and would change the ETag every poll
        body.update(residentMemoryBytes=None if memory is None else int(memory) // MIB * MIB,
                    webhookBacklog=metrics.webhook_backlog())
    return body


def _build() -> bytes:
    metrics = current_app.extensions.get(METRICS_EXTENSION)
    port = registry()
    clients = _clients(port, metrics.client_totals() if metrics is not None else {})
    return current_app.json.dumps({"clients": clients, "health": _health(port, clients, metrics)}).encode() + b"\n"


@bp.get("", operation_id="getDashboard", responses=responses({200: Overview, **NOT_MODIFIED}))
@client_scoped
def overview():
    """Every client the key sees with its queue length and send counts, and health (ETag; 304 if unchanged).

    Built at most once a second per key (shared by all its open pages), so it may be a second old."""
    principal = current_principal()
    body, etag = current_app.extensions[CACHE_EXTENSION].get((principal.key_id, principal.clients), _build)
    response = Response(body, mimetype=current_app.json.mimetype)
    response.set_etag(etag)
    return response.make_conditional(request)
