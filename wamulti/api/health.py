"""GET /healthz: liveness and store reachability, without a key and without secrets."""

from __future__ import annotations

from flask import Blueprint

from .registry import registry as current_registry

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 ok, or 503 degraded while the store is unreachable."""
    registry = current_registry()
    health = registry.health()
    body = {"status": "ok", "store": registry.store_kind, "clients": health["clients"]}
    if "snapshots" in health:
        body["snapshots"] = health["snapshots"]  # {"behind": clients, "maxLagSeconds": s}
    if health["store_ok"]:
        return body
    # Also shaped like every other error, so generic clients can read it.
    body.update(status="degraded", error="store_unavailable", message="The session store is unreachable.")
    return body, 503, {"Retry-After": "5"}
