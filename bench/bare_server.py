"""The real server plus one bare endpoint on the same waitress/Flask stack and auth (API-overhead baseline).

Run by bench.api_overhead as `python -m bench.bare_server`; settings from the environment, and
BENCH_WAITRESS_SEAMS: the parts of wamulti/seams/waitress_internals.py to use, `+`-joined (`none`: none), instead
of the service's default (bench.sends --seams).
"""

from __future__ import annotations

import os
import sys

from flask import Blueprint

from wamulti.web.json_body import json_object
from wamulti.config import load_settings
from wamulti.server import WAITRESS_SEAMS, configure_logging, serve

bare = Blueprint("bench_bare", __name__, url_prefix="/api/bench")


@bare.post("/bare")
def bare_endpoint():
    """Parse the body like every route does, then answer without touching the registry."""
    json_object()
    return {"success": True}


def seams_from_environment() -> frozenset:
    """BENCH_WAITRESS_SEAMS as a set of parts; the service's default when it is not set."""
    chosen = os.environ.get("BENCH_WAITRESS_SEAMS")
    if chosen is None:
        return WAITRESS_SEAMS
    return frozenset(part for part in chosen.split("+") if part and part != "none")


if __name__ == "__main__":
    settings = load_settings(None)
    configure_logging(settings.log_level)
    sys.exit(serve(settings, customize_app=lambda app: app.register_blueprint(bare),
                   waitress_seams=seams_from_environment()))
