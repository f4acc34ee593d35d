"""What a send carries besides its recipient: the request as the route validated it, and the JSON
kept with its outbound row (`payload`) so the send thread, and a later process, send the same.

A plain text with no reply is just the row's `body` (payload None), as before migration 8.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from ..backends.backend_api import MEDIA_KINDS  # noqa: F401  (re-exported: the route names them)


@dataclass(frozen=True)
class MediaChoice:
    """A stored file (`media_id`) or a URL to fetch at accept time, sent as `kind`."""

    kind: str
    media_id: str | None = None
    url: str | None = None
    caption: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class LocationChoice:
    lat: float
    lng: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class ContactChoice:
    display_name: str
    vcard: str


@dataclass(frozen=True)
class SendRequest:
    """Exactly one of text, media, location, contact (the route checked it); reply_to: a message id."""

    to: str
    text: str | None = None
    media: MediaChoice | None = None
    location: LocationChoice | None = None
    contact: ContactChoice | None = None
    reply_to: str | None = None

    @property
    def is_plain_text(self) -> bool:
        return self.text is not None and self.reply_to is None

    @property
    def body(self) -> str:
        """The row's `body`: the text, a caption, a place's name or a contact's name ("" if none)."""
        if self.text is not None:
            return self.text
        if self.media is not None:
            return self.media.caption or ""
        if self.location is not None:
            return self.location.name or ""
        return self.contact.display_name if self.contact else ""


def request_hash(client_id: str, request: SendRequest) -> str:
    """sha256 of the whole request's meaning, so a retry with the same fields in another order or
    spacing is the same request; a plain text hashes as it did before payloads existed."""
    meaning: list = [client_id, request.to, request.body]
    if not request.is_plain_text:
        meaning.append(asdict(request))
    canonical = json.dumps(meaning, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def to_payload(request: SendRequest) -> str | None:
    """The row's payload JSON (a `{"url"}` is resolved to a media id before this), None for a plain text."""
    if request.is_plain_text:
        return None
    return json.dumps(asdict(request), ensure_ascii=False, separators=(",", ":"))


def from_payload(payload: str) -> SendRequest:
    """The request a row's payload holds."""
    data = json.loads(payload)
    media, location, contact = data.get("media"), data.get("location"), data.get("contact")
    return SendRequest(to=data["to"], text=data.get("text"), reply_to=data.get("reply_to"),
                       media=MediaChoice(**media) if media else None,
                       location=LocationChoice(**location) if location else None,
                       contact=ContactChoice(**contact) if contact else None)
