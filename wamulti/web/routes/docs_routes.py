"""GET /openapi.json (the document flask-openapi3 builds from the routes' models, openapi_document.py)
and GET /docs.

The explorer is Swagger UI from the installed flask-openapi3-swagger package (the static folder of
the blueprint its plugin makes), served by us under /docs/assets/, so the page works without
internet. Both need no key: the contract is public, and a browser loading the page sends no header;
trying a route in it asks for the key (Authorize).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from flask_openapi3_swagger.plugins import RegisterPlugin

from ..openapi_document import api_document

SWAGGER_ASSETS = RegisterPlugin.register("/openapi.json").static_folder  # the plugin's own assets
bp = Blueprint("docs", __name__, static_folder=SWAGGER_ASSETS, static_url_path="/docs/assets")

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>wamulti API</title>
  <link rel="stylesheet" href="/docs/assets/css/swagger-ui.css">
  <link rel="icon" href="/docs/assets/images/swagger.svg">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/js/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/js/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout", validatorUrl: null, persistAuthorization: false
    });
  </script>
</body>
</html>
"""


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document of every route."""
    return api_document(current_app)


@bp.get("/docs")
def docs_page():
    """The API explorer (Swagger UI)."""
    return Response(PAGE, mimetype="text/html")
