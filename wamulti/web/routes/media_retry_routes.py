"""POST /api/media/<mediaId>/retry: download an incoming media again (a failed one, or one stuck pending)."""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag

from ..auth import SECURITY, check_api_key, client_scoped
from ..registry_port import registry
from ..responses import MediaRetried, responses
from ..schemas import MediaPath

bp = APIBlueprint("media_retry", __name__, url_prefix="/api/media", abp_tags=[Tag(name="media")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)


@bp.post("/<media_id>/retry", operation_id="retryMediaDownload", responses=responses({202: MediaRetried}, 400, 404, 409))
@client_scoped
def retry(path: MediaPath):
    """Queue the download of an incoming media again: one whose download `failed`, or one `pending`
    for 15 minutes and not queued (its process ended). 202 with the media, now `pending`; its outcome
    comes as a `message.media` event. 400 a malformed id, 404 unknown id (or another client's), 409
    stored, skipped, too_large or still queued, 503 `client_not_ready` (its client must be READY)."""
    return registry().retry_media(path.media_id), 202
