"""GET /api/instances (CLUSTER=on): the instances sharing the database, their clients and lease health."""

from __future__ import annotations

from flask import current_app
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, Field, RootModel

from ...errors import NotFound
from ..auth import SECURITY, admin_only, check_api_key
from ..forwarding import CLUSTER_EXTENSION
from ..json_body import iso_utc
from ..responses import responses

bp = APIBlueprint("instances", __name__, url_prefix="/api/instances", abp_tags=[Tag(name="instances")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)


class InstanceOut(BaseModel):
    id: str = Field(examples=["3f2a9c0d1e2b4a5c"], description="The instance id (DATA_DIR/instance-id).")
    address: str = Field(examples=["http://10.0.0.5:3000"], description="Where it serves (forwarded commands).")
    clients: int = Field(ge=0, description="Clients it holds a live lease of.")
    live: bool = Field(description="Renewing its leases (seen within one lease length) and not stopped.")
    seenSecondsAgo: float = Field(ge=0, description="Since its last lease renewal, by the database's clock.")
    startedAt: str
    stoppedAt: str | None = Field(description="When it stopped and handed its clients over (null: running).")
    self: bool = Field(description="The instance answering this request.")


class InstanceList(RootModel[list[InstanceOut]]):
    """Every instance that ever joined, by id."""


@bp.get("", operation_id="listInstances", responses=responses({200: InstanceList}, 403, 404))
@admin_only
def list_instances():
    """The instances sharing the database (CLUSTER=on); 404 when this server runs alone."""
    cluster = current_app.extensions.get(CLUSTER_EXTENSION)
    if cluster is None:
        raise NotFound("This server runs alone (CLUSTER is off): it has no instances to list.")
    return [{"id": i.instance_id, "address": i.address, "clients": i.clients, "live": i.live,
             "seenSecondsAgo": max(0.0, i.seen_seconds_ago), "startedAt": iso_utc(i.started_at),
             "stoppedAt": iso_utc(i.stopped_at), "self": i.instance_id == cluster.instance_id}
            for i in cluster.whereabouts.instances()]
