"""add_dashboard(app): the page, its session routes and overview route, and the session lookup."""

from __future__ import annotations

from flask import Flask

from ..auth import SESSIONS_EXTENSION
from . import overview_routes, page_routes, session_routes
from .cookie_sessions import CookieSessions, no_store
from .session_book import SessionBook


def add_dashboard(app: Flask, book: SessionBook | None = None) -> None:
    """Serve the dashboard at / on `app` (a flask-openapi3 app); sessions live in `book` (a new one)."""
    app.extensions[SESSIONS_EXTENSION] = CookieSessions(book or SessionBook())
    app.register_blueprint(page_routes.bp)
    app.register_api(session_routes.bp)
    app.register_api(overview_routes.bp)
    app.after_request(no_store)
