"""Where pydantic validation meets the API's error contract.

flask-openapi3 reads a body with request.get_json(); ApiRequest answers that with our strict
wire-format parser (json_body.py: 415, 413, UTF-8, no NaN, an object), so the library validates
exactly what we accept. Its ValidationError becomes one 400 `invalid_request` whose message names
the first bad field, in the models' field order.
"""

from __future__ import annotations

from itertools import takewhile

from flask import Request
from pydantic import ValidationError

from .error_handlers import BadRequest
from .json_body import json_object
from .schemas import INVALID_FIELD


class ApiRequest(Request):
    """Flask's request with get_json() replaced by the API's strict JSON object parser."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        # No body is None: an optional body model takes it as {}, a required one refuses it below.
        if not self.get_data(cache=True):
            return None
        return json_object()


def field_message(error: dict) -> str:
    """One sentence naming the field of one pydantic error."""
    kind = error["type"]
    if kind == INVALID_FIELD:
        return error["ctx"]["message"]
    field = ".".join(takewhile(lambda part: isinstance(part, str), error["loc"])) or str(error["loc"][0])
    if kind == "missing" or error.get("input", "") is None:
        return f"Field '{field}' is required."
    if kind == "string_type":
        return f"Field '{field}' must be a string."
    if kind in ("list_type", "dict_type", "model_type"):
        return f"Field '{field}' must be a {kind.split('_')[0].replace('dict', 'JSON object')}."
    return f"Field '{field}' is not valid: {error['msg'].rstrip('.')}."


def raise_bad_request(exc: ValidationError):
    """flask-openapi3's validation_error_callback: raise the API's own 400 instead of answering 422."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    if not first["loc"] and first["type"] != INVALID_FIELD:  # the body itself: absent (None) where the route needs one
        json_object()  # raises the precise wire-format error (415 without Content-Type, 400 otherwise)
        raise BadRequest("The request body must be a JSON object.")
    raise BadRequest(field_message(first))
