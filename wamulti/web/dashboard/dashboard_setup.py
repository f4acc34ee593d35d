"""add_dashboard(app): the page, its session routes and overview route, and the session lookup."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from ..auth import SESSIONS_EXTENSION
from ..routes.event_routes import EVENT_POLLS_EXTENSION
from . import overview_routes, page_routes, session_routes
from .cookie_sessions import SAFE_METHODS, CookieSessions, no_store
from .event_polls import SessionEventPolls
from .overview_cache import OverviewCache
from .recent_events_cache import RecentEventsCache
from .session_book import SessionBook

SEND_PATHS = ("/api/messages/", "/api/media")


def add_dashboard(app: Flask, book: SessionBook | None = None) -> None:
    """Serve the dashboard at / on `app` (a flask-openapi3 app); sessions live in `book` (a new one)."""
    app.extensions[SESSIONS_EXTENSION] = CookieSessions(book or SessionBook())
    app.extensions[overview_routes.CACHE_EXTENSION] = OverviewCache()
    app.extensions[EVENT_POLLS_EXTENSION] = SessionEventPolls(RecentEventsCache())
    app.register_blueprint(page_routes.bp)
    app.register_api(session_routes.bp)
    app.register_api(overview_routes.bp)
    app.after_request(no_store)
    app.after_request(_fresh_after_a_change)


def _fresh_after_a_change(response: Response) -> Response:
    # a create, pair, delete or send through the API: the next overview is built anew, not reused
    if request.method not in SAFE_METHODS and response.status_code < 400:
        current_app.extensions[overview_routes.CACHE_EXTENSION].clear()
        # a redelivery, a replay or a delete changes events already listed; sends only add later ones
        if not request.path.startswith(SEND_PATHS):
            current_app.extensions[EVENT_POLLS_EXTENSION].cache.clear()
    return response
