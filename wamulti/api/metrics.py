"""GET /metrics: Prometheus text format, behind the API key (x-api-key or Authorization: Bearer)."""

from __future__ import annotations

from flask import Response, current_app
from flask_openapi3 import APIBlueprint, Tag
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .auth import check_api_key
from .responses import responses

METRICS_EXTENSION = "wamulti.metrics"
bp = APIBlueprint("metrics", __name__, abp_tags=[Tag(name="metrics")],
                  abp_security=[{"apiKey": []}, {"bearer": []}])

TEXT = {"description": "Prometheus text exposition format 0.0.4.",
        "content": {"text/plain": {"schema": {"type": "string"},
                                   "example": "wamulti_clients{state=\"READY\"} 3.0\n"}}}


@bp.get("/metrics", responses=responses({200: TEXT}))
def metrics():
    """Prometheus metrics: clients per state, sends, receives, store calls, webhooks, process."""
    check_api_key(allow_bearer=True)
    registry = current_app.extensions[METRICS_EXTENSION].registry
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
