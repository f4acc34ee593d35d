"""MediaKit: what sending media needs in the whole process, and a send's media taken in at accept time.

server.py builds one MediaKit (`media_kit`: the MediaLibrary and wamulti.transcoding) and hands it
to the ClientRegistry. Without them (`files` and `conversions` None, as some tests build it) a send
with media answers 400 `invalid_request` saying so.

At accept time (the request thread) a `{"url"}` is fetched into the media store (store_url, under
the destination policy, size-capped, with a timeout) and a `{"id"}` is checked: it exists, is
stored, and belongs to the sending client (or to none, when the caller is an admin key). Nothing
is queued when either fails. The send thread later uses only the media id.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import InvalidField, NotFound
from .media_ports import STORED, Conversions, MediaFiles
from .payloads import SendRequest
from .uploads import DEFAULT_REUSE_HOURS, DEFAULT_UPLOADS_AT_ONCE, UploadCache, UploadGate

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_URL_TIMEOUT = 30.0


class MediaKit:
    """The media store, the conversions, the process-wide upload gate and the upload reuse time."""

    def __init__(self, files: MediaFiles | None = None, conversions: Conversions | None = None, *,
                 uploads_at_once: int = DEFAULT_UPLOADS_AT_ONCE, reuse_hours: float = DEFAULT_REUSE_HOURS,
                 max_bytes: int = DEFAULT_MAX_BYTES, url_timeout: float = DEFAULT_URL_TIMEOUT):
        self.files = files
        self.conversions = conversions
        self.gate = UploadGate(uploads_at_once)
        self.reuse_hours = reuse_hours
        self.max_bytes = max_bytes
        self.url_timeout = url_timeout

    def upload_cache(self) -> UploadCache:
        """A client's own cache (one per client, kept across its runs), under this process's gate."""
        return UploadCache(self.gate, self.reuse_hours)

    def take_in(self, client_id: str, request: SendRequest, *, admin: bool) -> tuple[SendRequest, str | None]:
        """The request with its media as a stored id, and that id (None without media); raises
        NotFound for an id the client may not use, InvalidField when it cannot be sent."""
        media = request.media
        if media is None:
            return request, None
        if self.files is None:
            raise InvalidField("media", "Field 'media' cannot be sent: this server has no media store configured.")
        if media.url is not None:
            record = self.files.store_url(media.url, file_name=media.file_name, client_id=client_id,
                                          max_bytes=self.max_bytes, timeout=self.url_timeout)
        else:
            record = self.files.get(media.media_id or "")
            visible = record is not None and (record.client_id == client_id or (record.client_id is None and admin))
            if not visible:
                raise NotFound(f"No media with id '{media.media_id}'.")
        if record.status != STORED:
            raise InvalidField("media", f"Field 'media' names a file that is {record.status}, not stored.")
        return replace(request, media=replace(media, media_id=record.media_id, url=None)), record.media_id
