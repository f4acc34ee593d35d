"""The dashboard at `/`: a page of plain HTML, CSS and JavaScript modules served from static/, a
cookie session that stands in for the key, and one JSON route of its own (the overview).

Everything else the page shows or changes goes through the ordinary /api routes with the session
(web/auth.py asks the session when a request carries no key), so a scoped key's session sees exactly
what the key sees (web/scoped.py). The design, with its figures: docs/dashboard.md.
"""

from .dashboard_setup import add_dashboard

__all__ = ["add_dashboard"]
