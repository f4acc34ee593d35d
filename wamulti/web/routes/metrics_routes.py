"""GET /metrics: Prometheus text format, behind the admin key (x-api-key or Authorization: Bearer)."""

from __future__ import annotations

from flask import Response, current_app
from flask_openapi3 import APIBlueprint, Tag
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..auth import SECURITY, admin_only, check_api_key
from ..responses import responses

METRICS_EXTENSION = "wamulti.metrics"
bp = APIBlueprint("metrics", __name__, abp_tags=[Tag(name="metrics")],
                  abp_security=SECURITY)

TEXT = {"description": "Prometheus text exposition format 0.0.4.",
        "content": {"text/plain": {"schema": {"type": "string"},
                                   "example": "wamulti_clients{state=\"READY\"} 3.0\n"}}}


@bp.get("/metrics", operation_id="getMetrics", responses=responses({200: TEXT}, 403, 503))
@admin_only
def metrics():
    """Prometheus metrics: clients per state, sends, receives, store calls, webhooks, process."""
    check_api_key()  # outside /api/: the app-wide hook does not cover it
    registry = current_app.extensions[METRICS_EXTENSION].registry
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
