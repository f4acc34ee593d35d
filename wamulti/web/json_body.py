"""The JSON wire format: reading a request body as a JSON object, and writing timestamps."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from .error_handlers import BadRequest, PayloadTooLarge, UnsupportedMediaType


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class DuplicateMember(ValueError):
    """A JSON object names one member twice: readers disagree on which value counts, so none does."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _unique_members(pairs: list[tuple[str, object]]) -> dict:
    """json's object hook: the object as a dict, refusing a member given twice (at any depth)."""
    body = dict(pairs)
    if len(body) != len(pairs):
        seen = set()
        for name, _ in pairs:
            if name in seen:
                raise DuplicateMember(name)
            seen.add(name)
    return body


def _too_large() -> PayloadTooLarge:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return PayloadTooLarge(f"The request body is larger than the limit of {limit:,} bytes.")


def json_object(optional: bool = False) -> dict:
    """The request body as a dict; with optional=True an empty body counts as {}.

    Raises UnsupportedMediaType (not application/json), PayloadTooLarge, or BadRequest (not UTF-8,
    not JSON, nested too deeply, not an object, or an object naming a member twice: a proxy that
    reads the first value would see another request than the one the last value makes).
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and limit is not None and request.content_length > limit:
        raise _too_large()  # refuse before reading a byte of it
    try:
        raw = request.get_data(cache=True)  # bounded by MAX_CONTENT_LENGTH, chunked bodies included
    except RequestEntityTooLarge:
        raise _too_large() from None
    if optional and not raw:
        return {}
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("The request body must be sent as 'Content-Type: application/json' (UTF-8).")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_members)
    except DuplicateMember as exc:
        raise BadRequest(f"The request body is not valid: member {_shown(exc.name)} is given twice.") from None
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.") from None
    except ValueError:  # JSONDecodeError, NaN/Infinity, integers too long to convert
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _shown(name: str) -> str:
    """A member name for an error message: quoted, at most 64 characters, non-printable ones escaped."""
    shown = name if len(name) <= 64 else name[:61] + "..."
    return "'" + shown.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'"


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision and a 'Z' suffix; naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
