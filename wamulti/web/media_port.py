"""The media library as the routes reach it, and a record as the request's key may see it."""

from __future__ import annotations

from flask import current_app

from ..errors import NotFound
from .auth import current_principal

MEDIA_EXTENSION = "wamulti.media"


def media():
    """The app's MediaLibrary (wamulti.media.library)."""
    return current_app.extensions[MEDIA_EXTENSION]


def visible_record(media_id: str):
    """The record, if the request's key may see it: the admin any, a scoped key its clients' only;
    anything else answers exactly like an unknown id."""
    record = media().get(media_id)
    principal = current_principal()
    if record is None or not (principal.is_admin or (record.client_id is not None
                                                      and principal.can_see(record.client_id))):
        raise NotFound(f"No media with id '{media_id[:40]}'.")
    return record
