"""GET /healthz: liveness and store reachability, without a key and without secrets."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from ..registry_port import registry as current_registry
from ..responses import Degraded, Health

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health")])


@bp.get("/healthz", operation_id="getHealth", responses={200: Health, 503: Degraded})
def healthz():
    """Liveness and store reachability: 200 ok, or 503 degraded while the store is unreachable."""
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
