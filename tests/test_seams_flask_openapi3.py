"""Contract of wamulti/seams/openapi3_internals.py and of the Swagger assets web/routes/docs_routes.py serves."""

from __future__ import annotations

import re
from pathlib import Path

from flask_openapi3 import OpenAPI
from flask_openapi3_swagger.plugins import RegisterPlugin

from tests.seams_pins import assert_installed_as_pinned
from wamulti.web.routes import docs_routes
from wamulti.seams.openapi3_internals import CachedSchema


def test_the_pinned_versions_are_installed():
    assert_installed_as_pinned("flask-openapi3")
    assert_installed_as_pinned("flask-openapi3-swagger")


SCHEMA_CALLS: list = []


class ProbeHeaders(CachedSchema):
    token: str

    @classmethod
    def model_json_schema(cls, *args, **kwargs):
        SCHEMA_CALLS.append((args, kwargs))
        return super().model_json_schema(*args, **kwargs)


class ProbeQuery(CachedSchema):
    page: int = 1
    tags: list[str] = []


def test_validation_asks_for_the_schema_without_arguments_and_only_reads_it():
    app = OpenAPI(__name__, doc_ui=False)

    @app.get("/probe")
    def probe(header: ProbeHeaders, query: ProbeQuery):
        return {"token": header.token, "page": query.page, "tags": query.tags}

    SCHEMA_CALLS.clear()  # registering the route asked for the document's schema (with arguments)
    client = app.test_client()
    for _ in range(2):
        answer = client.get("/probe?page=3&tags=a&tags=b", headers={"token": "t1"})
        assert answer.status_code == 200 and answer.json == {"token": "t1", "page": 3, "tags": ["a", "b"]}
    assert SCHEMA_CALLS == [((), {})] * 2, "asked once per request, with no arguments"
    assert ProbeQuery.model_json_schema() is ProbeQuery.model_json_schema(), "every request shares one frozen copy"


def test_the_document_gets_a_copy_it_may_change():
    class Query(CachedSchema):
        page: int = 1

    schema = Query.model_json_schema(mode="serialization")
    schema["title"] = "changed"
    assert Query.model_json_schema(mode="serialization")["title"] == "Query"


def test_the_swagger_plugin_serves_every_asset_the_docs_page_names():
    folder = Path(RegisterPlugin.register("/openapi.json").static_folder)
    assert Path(docs_routes.SWAGGER_ASSETS) == folder
    named = re.findall(r"/docs/assets/([\w./-]+)", docs_routes.PAGE)
    assert named and all((folder / name).is_file() for name in named), named
