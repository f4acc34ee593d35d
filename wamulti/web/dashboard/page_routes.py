"""GET /: the dashboard page, and its files under /dashboard/static/ (HTML, CSS, JavaScript modules).

No build step and nothing from another host: the files are served as they are in static/. Every
answer here carries a Content-Security-Policy that allows scripts, styles and images from this
origin only (no inline script or style, no framing), so injected markup cannot run.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).resolve().parent / "static"
bp = Blueprint("dashboard_page", __name__, static_folder=str(STATIC), static_url_path="/dashboard/static")

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@bp.get("/")
def dashboard_page():
    """The page itself; it signs in and reads everything else with fetch()."""
    response = send_from_directory(STATIC, "index.html", mimetype="text/html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"  # revalidated: a new version shows at the next load
    return response


@bp.after_request
def security_headers(response: Response) -> Response:
    """The page's and its files' headers (the static files pass through this blueprint too)."""
    response.headers.update(SECURITY_HEADERS)
    return response
