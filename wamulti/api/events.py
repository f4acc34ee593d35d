"""Routes under /api/events: reading the outbox with a cursor, and redelivering one event."""

from __future__ import annotations

from flask import Blueprint, request

from ..errors import InvalidField, NotFound
from ..events.fields import check_event_id, check_event_type
from ..fields import validate_client_id
from .auth import check_api_key
from .events_port import events
from .json_body import iso_utc

bp = Blueprint("events", __name__, url_prefix="/api/events")
bp.before_request(check_api_key)

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def event_json(status) -> dict:
    """The API's event object: the event as a webhook receives it, and how its delivery stands."""
    return {
        **status.event.to_json(),
        "delivery": status.delivery.value,
        "attempts": status.attempts,
        "lastStatus": status.last_status,
        "lastError": status.last_error,
        "nextAttemptAt": iso_utc(status.next_attempt_at),
    }


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidField("limit", f"Query parameter 'limit' must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def _optional(name: str, check):
    raw = request.args.get(name)
    return None if raw is None else check(raw)


@bp.get("")
def list_events():
    """Events oldest first: ?clientId=&type=&after=<eventId>&limit=100; `next` is the following page's cursor."""
    client_id = _optional("clientId", validate_client_id)
    type_ = _optional("type", lambda v: check_event_type(v, "type", "Query parameter 'type'"))
    after = _optional("after", lambda v: check_event_id(v, "after", "Query parameter 'after'"))
    limit = _limit(request.args.get("limit"))
    page = events().list_events(client_id=client_id, type=type_, after=after, limit=limit)
    return {"events": [event_json(s) for s in page.events], "next": page.next}


@bp.post("/<event_id>/redeliver")
def redeliver(event_id: str):
    """Queue one event for delivery again (404 unknown, 409 when no webhook applies to it)."""
    try:
        event_id = check_event_id(event_id, "eventId")
    except InvalidField:
        raise NotFound(f"No event with id '{event_id[:40]}'.") from None
    return event_json(events().redeliver(event_id))
