"""Routes of the media store: POST /api/media, GET /api/media/<id>[/info], and the public signed
link GET /media/<id>?expires=..&sig=.. (no key: the signature is the credential).

A body is streamed to disk (waitress spools it to a temp file; we copy it in chunks, capped at
MEDIA_MAX_MB), and a file answer streams its blob a chunk at a time, local or S3 alike.
"""

from __future__ import annotations

from flask import Response, current_app, request, send_file
from flask_openapi3 import APIBlueprint, Tag
from werkzeug.exceptions import RequestEntityTooLarge

from ...errors import NotFound
from ...media.file_names import content_disposition
from ...media.intake import too_large
from ..auth import SECURITY, check_api_key, client_scoped, current_principal
from ..error_handlers import BadRequest, json_error
from ..json_body import iso_utc
from ..media_models import MediaInfo, MediaLinkQuery, MediaOut, MediaPath, MediaUploadQuery
from ..media_port import MEDIA_EXTENSION, media, visible_record
from ..registry_port import registry
from ..responses import ERROR_MODELS, responses

MAX_BYTES_CONFIG = "WAMULTI_MEDIA_MAX_BYTES"
FORM_SLACK = 64 * 1024  # a multipart body's boundaries and part headers around the file
PENDING_RETRY_SECONDS = 5
FILE = {"description": "The file's bytes (Content-Type sniffed from them; always an attachment, nosniff).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
UPLOAD_BODY = {"content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}},
}, "description": "The raw file (any Content-Type), or multipart/form-data with one file part."}

# The public link needs no key: no 401 (responses() adds it for the routes behind a key)
PUBLIC_RESPONSES = {200: FILE, **{status: ERROR_MODELS[status] for status in (403, 404, 410, 500, 503)}}

bp = APIBlueprint("media", __name__, url_prefix="/api/media", abp_tags=[Tag(name="media")], abp_security=SECURITY)
bp.before_request(check_api_key)
public_bp = APIBlueprint("media_links", __name__, url_prefix="/media", abp_tags=[Tag(name="media")])


def serve(app, library, max_bytes: int) -> None:
    """Register the media routes on `app`, serving `library` with files up to `max_bytes`."""
    app.extensions[MEDIA_EXTENSION] = library
    app.config[MAX_BYTES_CONFIG] = max_bytes
    app.register_api(bp)
    app.register_api(public_bp)


def media_json(record) -> dict:
    return {"mediaId": record.media_id, "mimetype": record.mimetype, "size": record.size, "sha256": record.sha256,
            "fileName": record.file_name, "clientId": record.client_id}


def _owner(client_id: str | None) -> str | None:
    """The client an upload is for: one the key may see (checked through the registry); a scoped key must name one."""
    if client_id is None:
        if not current_principal().is_admin:
            raise BadRequest("Query parameter 'clientId' is required with a scoped key.")
        return None
    registry().get(client_id)  # NotFound for an unknown client, or one the key may not see
    return client_id


def _body_stream(max_bytes: int):
    """The uploaded file as a stream: the multipart file part, or the raw body."""
    if request.content_length is not None and request.content_length > max_bytes + FORM_SLACK:
        raise too_large(max_bytes)  # said before a byte is read
    request.max_content_length = max_bytes + FORM_SLACK
    if request.mimetype == "multipart/form-data":
        files = list(request.files.values())
        if len(files) != 1:
            raise BadRequest("A multipart/form-data body must hold exactly one file part.")
        return files[0].stream, files[0].filename
    return request.stream, None


@bp.post("", operation_id="uploadMedia", responses=responses({201: MediaOut}, 400, 404, 413),
         openapi_extensions={"requestBody": UPLOAD_BODY})
@client_scoped
def upload(query: MediaUploadQuery):
    """Store a file (raw body, or multipart/form-data with one file part), streamed to disk and capped at
    MEDIA_MAX_MB; the same bytes stored twice are one file."""
    client_id = _owner(query.clientId)
    max_bytes = current_app.config[MAX_BYTES_CONFIG]
    try:
        stream, part_name = _body_stream(max_bytes)
        record = media().store_stream(stream, file_name=query.fileName or part_name, client_id=client_id,
                                      max_bytes=max_bytes)
    except RequestEntityTooLarge:
        raise too_large(max_bytes) from None
    return media_json(record), 201


@bp.get("/<media_id>", operation_id="getMedia", responses=responses({200: FILE}, 404))
@client_scoped
def get_file(path: MediaPath):
    """The stored file's bytes (admin, or a scoped key whose client owns it; else 404)."""
    return file_answer(visible_record(path.media_id))


@bp.get("/<media_id>/info", operation_id="getMediaInfo", responses=responses({200: MediaInfo}, 404))
@client_scoped
def info(path: MediaPath):
    """The media record: how it stands (status, reason) and, once stored, a signed link."""
    record = visible_record(path.media_id)
    url = media().signed_url(record.media_id) if record.status == "stored" else None
    return {**media_json(record), "status": record.status, "reason": record.reason, "url": url,
            "createdAt": iso_utc(record.created_at)}


@public_bp.get("/<media_id>", operation_id="getMediaByLink", responses=PUBLIC_RESPONSES, security=[])
def by_link(path: MediaPath, query: MediaLinkQuery):
    """A signed link's file, without a key: 403 for a bad or expired signature, 503 (Retry-After) while
    the file is on its way, 410 when it will never come (too_large, skipped, failed)."""
    if not media().link_valid(path.media_id, query.expires, query.sig):
        return json_error(403, {"error": "link_invalid", "message": "The link's signature is wrong or it has expired."})
    record = media().get(path.media_id)
    if record is None:
        raise NotFound(f"No media with id '{path.media_id[:40]}'.")
    if record.status == "pending":
        return json_error(503, {"error": "media_pending", "message": "The file is still on its way; retry shortly."},
                          {"Retry-After": str(PENDING_RETRY_SECONDS)})
    if record.status != "stored":
        return json_error(410, {"error": "media_unavailable", "message": "The file was not stored.",
                                "status": record.status, "reason": record.reason})
    return file_answer(record)


def _streamed(record) -> Response:
    """The record's bytes from the library a chunk at a time (a missing blob raises before the status line)."""
    chunks = media().chunks(record)
    first = next(chunks, b"")

    def body():
        yield first
        yield from chunks
    return Response(body(), direct_passthrough=True)


def file_answer(record) -> Response:
    """The record's bytes, streamed: a local blob through the server's file wrapper (sent from the file
    a block at a time), an S3 one chunk by chunk; never a partial file."""
    path = media().blob_file(record)
    response = (send_file(path, conditional=False, etag=False, max_age=None) if path is not None
                else _streamed(record))
    response.mimetype = record.mimetype or "application/octet-stream"
    response.content_length = record.size
    response.headers["Content-Disposition"] = content_disposition(record.file_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
