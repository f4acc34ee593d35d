"""The Flask application factory; wires settings, the registry, auth, errors and blueprints."""

from __future__ import annotations

from flask_openapi3 import Info, OpenAPI

from .. import __version__
from ..config import Settings
from . import auth
from .error_handlers import register_error_handlers
from .events_port import EVENTS_EXTENSION
from .openapi_document import VALIDATION_STATUS
from .registry_port import REGISTRY_EXTENSION
from .responses import ERROR_MODELS
from .forwarding import init_forwarding
from .routes import (action_routes, client_routes, docs_routes, event_routes, group_routes, health_routes,
                     instance_routes, key_routes, lookup_routes, media_retry_routes, media_routes, message_routes, metrics_routes,
                     webhook_routes)
from .dashboard import add_dashboard
from .validation import ApiRequest, raise_bad_request

JSON_MIMETYPE = "application/json; charset=utf-8"
DESCRIPTION = ("Many WhatsApp accounts behind one REST API. Every route under /api/ needs a key in the header "
               "`x-api-key` (or `Authorization: Bearer <key>`): the admin key (API_KEY) reaches everything; a "
               "scoped key made with POST /api/keys reaches only its clients on the routes marked "
               "`x-wamulti-keys: scoped`, and sees every other client as unknown (404). Every error is "
               "`{\"error\": \"<code>\", \"message\": \"<one sentence>\"}`.")


class ApiApp(OpenAPI):
    """flask-openapi3's app with wamulti's request class (its document: web/openapi_document.py)."""

    request_class = ApiRequest


def create_app(settings: Settings, registry, events=None, metrics=None, keys=None, media=None,
               cluster=None) -> OpenAPI:
    """A new app serving `registry` (a ClientRegistry or a test double); starts no threads.

    With `events` (an EventService, or anything with the EventsPort methods) it also serves the
    events and webhook routes; with `metrics` (a wamulti.metrics.prometheus_metrics.Metrics) GET /metrics; with `keys`
    (a wamulti.keys.ApiKeys) scoped keys and the /api/keys routes (without: the admin key only); with
    `media` (a wamulti.media.library.MediaLibrary) /api/media and the public signed links /media/<id>; with
    `cluster` (a wamulti.cluster.cluster_node.ClusterNode, CLUSTER=on) commands forwarded to a client's owner
    and the instances listed.
    """
    app = ApiApp(__name__, info=Info(title="wamulti", version=__version__, description=DESCRIPTION),
                 security_schemes=auth.SECURITY_SCHEMES, doc_ui=False,
                 validation_error_status=VALIDATION_STATUS, validation_error_model=ERROR_MODELS[VALIDATION_STATUS],
                 validation_error_callback=raise_bad_request)
    # Werkzeug refuses larger bodies with 413 (Content-Length and chunked alike); the error
    # handlers turn that into JSON like every other error.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False  # unicode passes through unchanged, not as \u escapes
    app.json.sort_keys = False  # keep the documented field order
    app.json.mimetype = JSON_MIMETYPE
    app.extensions[REGISTRY_EXTENSION] = registry

    auth.init_app(app, settings.api_key, keys)
    register_error_handlers(app)
    if cluster is not None:
        init_forwarding(app, cluster)  # after the key check
    app.register_blueprint(docs_routes.bp)
    for always in (health_routes, client_routes, message_routes, media_retry_routes, lookup_routes, group_routes,
                   action_routes, instance_routes):
        app.register_api(always.bp)
    _optional_parts(app, settings, events, metrics, keys, media)
    add_dashboard(app)
    return app


def _optional_parts(app: OpenAPI, settings: Settings, events, metrics, keys, media) -> None:
    """The routes of the parts create_app was given."""
    if events is not None:
        app.extensions[EVENTS_EXTENSION] = events
        app.register_api(event_routes.bp)
        app.register_api(webhook_routes.bp)
    if keys is not None:
        app.register_api(key_routes.bp)
    if media is not None:
        media_routes.serve(app, media, settings.media_max_bytes)
    if metrics is not None:
        app.extensions[metrics_routes.METRICS_EXTENSION] = metrics
        app.register_api(metrics_routes.bp)
