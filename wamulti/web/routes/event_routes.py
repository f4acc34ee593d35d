"""Routes under /api/events: reading the outbox with a cursor, and redelivering one event."""

from __future__ import annotations

from flask import current_app
from flask_openapi3 import APIBlueprint, Tag

from ...errors import InvalidField, NotFound
from ...hearing.event_fields import check_event_id
from ..auth import SECURITY, check_api_key, client_scoped
from ..events_port import events
from ..json_body import iso_utc
from ..responses import EventOut, EventPage, responses
from ..schemas import EventPath, EventsQuery

bp = APIBlueprint("events", __name__, url_prefix="/api/events", abp_tags=[Tag(name="events")],
                  abp_security=SECURITY)
bp.before_request(check_api_key)
# optional (web/dashboard/ sets it): answer(query, list_page) -> a Response for a dashboard's poll, or None
EVENT_POLLS_EXTENSION = "wamulti.event_polls"


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


@bp.get("", operation_id="listEvents", responses=responses({200: EventPage}, 400, 503))
@client_scoped
def list_events(query: EventsQuery):
    """Events oldest first: ?clientId=&type=&after=<eventId>&limit=100; `next` is the following page's cursor."""
    polls = current_app.extensions.get(EVENT_POLLS_EXTENSION)
    answered = polls.answer(query, _list_page) if polls is not None else None
    return answered if answered is not None else _list_page(query)


def _list_page(query: EventsQuery) -> dict:
    page = events().list_events(client_id=query.clientId, type=query.type, after=query.after, limit=query.limit)
    return {"events": [event_json(s) for s in page.events], "next": page.next}


@bp.post("/<event_id>/redeliver", operation_id="redeliverEvent", responses=responses({200: EventOut}, 404, 409, 503))
@client_scoped
def redeliver(path: EventPath):
    """Queue one event for delivery again (404 unknown, 409 when no webhook applies to it)."""
    try:
        event_id = check_event_id(path.event_id, "eventId")
    except InvalidField:
        raise NotFound(f"No event with id '{path.event_id[:40]}'.") from None
    return event_json(events().redeliver(event_id))
