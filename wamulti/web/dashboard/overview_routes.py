"""GET /api/dashboard: what the dashboard's accounts and health views show, in one cheap answer.

Everything in it is in memory (the clients' states, their queues, the counters of /metrics), so a
poll costs no store query; its ETag lets an unchanged answer go as a bodiless 304. Scoped exactly
like GET /api/clients (web/scoped.py); the process-wide figures only for the admin key.
"""

from __future__ import annotations

import hashlib
import json

from flask import current_app, jsonify, request
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


@bp.get("", operation_id="getDashboard", responses=responses({200: Overview, **NOT_MODIFIED}))
@client_scoped
def overview():
    """Every client the key sees with its queue length and send counts, and health (ETag; 304 if unchanged)."""
    metrics = current_app.extensions.get(METRICS_EXTENSION)
    port = registry()
    clients = _clients(port, metrics.client_totals() if metrics is not None else {})
    body = {"clients": clients, "health": _health(port, clients, metrics)}
    response = jsonify(body)
    response.set_etag(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32])
    return response.make_conditional(request)
