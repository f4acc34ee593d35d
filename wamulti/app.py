"""The Flask application factory; wires settings, the registry, auth, errors and blueprints."""

from __future__ import annotations

from flask import Flask

from .api import auth, clients, health, messages, webhooks
from .api import events as events_routes
from .api.errors import register_error_handlers
from .api.events_port import EVENTS_EXTENSION
from .api.registry import REGISTRY_EXTENSION
from .config import Settings

JSON_MIMETYPE = "application/json; charset=utf-8"


def create_app(settings: Settings, registry, events=None) -> Flask:
    """A new app serving `registry` (a ClientRegistry or a test double); starts no threads.

    With `events` (an EventService, or anything with the EventsPort methods) it also serves the
    events and webhook routes.
    """
    app = Flask(__name__)
    # Werkzeug refuses larger bodies with 413 (Content-Length and chunked alike); the error
    # handlers turn that into JSON like every other error.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False  # unicode passes through unchanged, not as \u escapes
    app.json.sort_keys = False  # keep the documented field order
    app.json.mimetype = JSON_MIMETYPE
    app.extensions[REGISTRY_EXTENSION] = registry

    auth.init_app(app, settings.api_key)
    register_error_handlers(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(clients.bp)
    app.register_blueprint(messages.bp)
    if events is not None:
        app.extensions[EVENTS_EXTENSION] = events
        app.register_blueprint(events_routes.bp)
        app.register_blueprint(webhooks.bp)
    return app
