"""The OpenAPI document GET /openapi.json serves: flask-openapi3's (its public `api_doc`), with each
operation's key policy noted, the library's generic 400 taken out, and the events a webhook receives
(`webhooks`, event_webhooks.py).

flask-openapi3 adds a 400 (an array of pydantic errors) to every operation that does not declare
one; ours never answer that shape, and routes without input cannot answer 400 at all.
"""

from __future__ import annotations

import copy
import re

from flask import Flask

from . import auth
from .event_webhooks import webhooks_section

VALIDATION_STATUS = 400
KEY_EXTENSION = "x-wamulti-keys"
KEY_NOTES = {auth.ADMIN_ONLY: "Key: the admin key only (a scoped key answers 403).",
             auth.CLIENT_SCOPED: "Key: the admin key, or a scoped key for its own clients (others answer as unknown)."}
DOCUMENT_EXTENSION = "wamulti.openapi_document"  # app.extensions key: the document, made once per app


def api_document(app: Flask) -> dict:
    """The served document, made from flask-openapi3's on first use (the routes are all registered by then)."""
    document = app.extensions.get(DOCUMENT_EXTENSION)
    if document is None:
        document = copy.deepcopy(app.api_doc)
        _note_key_policies(app, document)
        _drop_generic_400(document)
        document["webhooks"] = webhooks_section(document.setdefault("components", {}).setdefault("schemas", {}))
        app.extensions[DOCUMENT_EXTENSION] = document
    return document


def _note_key_policies(app: Flask, document: dict) -> None:
    """Each operation behind a key says which keys it takes (x-wamulti-keys and its description)."""
    for rule in app.url_map.iter_rules():
        policy = auth.route_policy(app.view_functions.get(rule.endpoint))
        path_item = document["paths"].get(re.sub(r"<(?:[^<:>]+:)?([^<>]+)>", r"{\1}", rule.rule), {})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = path_item.get(method.lower())
            if policy is not None and operation is not None:
                operation[KEY_EXTENSION] = policy
                operation["description"] = f"{operation.get('description', '')}\n\n{KEY_NOTES[policy]}".strip()


def _drop_generic_400(document: dict) -> None:
    for path_item in document["paths"].values():
        for operation in path_item.values():
            answer = operation.get("responses", {}).get(str(VALIDATION_STATUS), {})
            if answer.get("content", {}).get("application/json", {}).get("schema", {}).get("type") == "array":
                del operation["responses"][str(VALIDATION_STATUS)]
