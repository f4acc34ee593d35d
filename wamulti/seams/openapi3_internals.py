"""Where wamulti leans on how flask-openapi3 4.3.2 (pinned) validates a request, beyond its API.

flask-openapi3 asks a header or query model for its whole JSON schema (`model_json_schema()`, no
arguments) on every request it validates, only to read the field names and types; pydantic builds
that schema anew each time. `CachedSchema` makes it once per class and hands every request the same
frozen copy. It relies on flask-openapi3 calling with no arguments and never changing the result;
tests/test_seams_flask_openapi3.py fails when the pinned version stops doing either, and
bench/seams_schema.py measures what it saves (bench/README.md).
"""

from __future__ import annotations

import copy
from types import MappingProxyType

from pydantic import BaseModel


class CachedSchema(BaseModel):
    """A model whose JSON schema is made once per class and set of arguments (see the module docstring).

    Calls without arguments (flask-openapi3's per request) share one frozen copy; calls with
    arguments (the OpenAPI document's) get a copy of their own to change."""

    @classmethod
    def model_json_schema(cls, *args, **kwargs) -> dict:
        cache = cls.__dict__.get("_schema_cache")
        if cache is None:
            cache = {}
            setattr(cls, "_schema_cache", cache)
        key = (args, tuple(sorted(kwargs.items())))
        if key not in cache:
            schema = super().model_json_schema(*args, **kwargs)
            cache[key] = _frozen(schema) if not args and not kwargs else schema
        return cache[key] if not args and not kwargs else copy.deepcopy(cache[key])


def _frozen(value):
    """A JSON value that cannot be changed: mappings read-only, lists as tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value
