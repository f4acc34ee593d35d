"""SessionEventPolls: GET /api/events asked with a dashboard session, answered through RecentEventsCache.

The events route asks it (EVENT_POLLS_EXTENSION) before reading the store; it answers only requests
made with the session cookie, so API-key callers read the store exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, g

from ..auth import current_principal
from .cookie_sessions import SESSION_USED
from .recent_events_cache import RecentEventsCache


class SessionEventPolls:
    """app.extensions[EVENT_POLLS_EXTENSION] of an app with the dashboard."""

    def __init__(self, cache: RecentEventsCache):
        self.cache = cache

    def answer(self, query, list_page: Callable[[object], dict]) -> Response | None:
        """The page of events for `query` (EventsQuery) when the request came with a session, else None."""
        if not g.get(SESSION_USED):
            return None
        principal = current_principal()
        json = current_app.json

        def dumps(value) -> bytes:  # compact, as the app answers JSON
            return json.dumps(value, separators=(",", ":")).encode()

        def read():
            page = list_page(query)
            return [(event["id"], dumps(event)) for event in page["events"]], page["next"]

        who = (principal.key_id, principal.clients, query.clientId, query.type)
        pieces, following = self.cache.page(who, query.after, query.limit, read)
        # byte for byte what the route answers: {"events": [...], "next": ...}
        return Response(b'{"events":[' + b",".join(pieces) + b'],"next":' + dumps(following) + b"}\n",
                        mimetype=json.mimetype)
