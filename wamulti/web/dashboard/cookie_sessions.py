"""The session cookie: how a request without a key is tied to a dashboard session, and CSRF.

web/auth.py calls `principal_for_request()` when a request under /api/ carries no key. A change
(any method but GET, HEAD, OPTIONS) made with the cookie must also carry the session's CSRF token in
`X-CSRF-Token` (a synchronizer token: the page reads it from GET /dashboard/session, which another
site's page cannot read). A request made with the cookie answers `Cache-Control: no-store`.
"""

from __future__ import annotations

import hmac

from flask import Response, current_app, g, request

from ...keys import ADMIN, Principal
from ..auth import KEYS_EXTENSION
from ..error_handlers import Forbidden
from .session_book import MAX_SECONDS, DashboardSession, SessionBook

COOKIE = "wamulti_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_USED = "wamulti_session_used"  # the flask.g flag: this request was made with the cookie
CSRF_MISSING = f"A change made with the dashboard's session needs its token in the header '{CSRF_HEADER}'."


class CookieSessions:
    """The app's sessions as web/auth.py consults them (app.extensions[SESSIONS_EXTENSION])."""

    def __init__(self, book: SessionBook):
        self.book = book

    def current(self) -> DashboardSession | None:
        """The request's live session, or None."""
        session_id = request.cookies.get(COOKIE, "")
        return self.book.find(session_id) if session_id else None

    def principal_for_request(self) -> Principal | None:
        """Whom the request's session acts for (None: no live session); Forbidden for a change
        without the session's CSRF token."""
        session = self.current()
        if session is None:
            return None
        check_csrf(session)
        principal = ADMIN if session.key_hash is None else _scoped_principal(session.key_hash)
        if principal is None:  # the key was revoked: its sessions end with it
            self.book.close(request.cookies.get(COOKIE, ""))
            return None
        setattr(g, SESSION_USED, True)
        return principal


def _scoped_principal(key_hash: str) -> Principal | None:
    keys = current_app.extensions.get(KEYS_EXTENSION)
    return keys.principal_for_hash(key_hash) if keys is not None else None


def check_csrf(session: DashboardSession) -> None:
    """Refuse a change whose X-CSRF-Token is not the session's (compared in constant time)."""
    if request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), session.csrf_token.encode("utf-8")):
        raise Forbidden(CSRF_MISSING)


def _over_https() -> bool:
    # waitress trusts no proxy header (http_server.py), so behind a TLS-ending proxy the request looks
    # like http; the browser's Origin (sent with every POST and DELETE) says how the page was loaded
    return request.is_secure or request.headers.get("Origin", "").startswith("https://")


def set_cookie(response: Response, session_id: str) -> None:
    """The session's cookie: HttpOnly, SameSite=Strict, Path=/, Secure when the page came over HTTPS."""
    response.set_cookie(COOKIE, session_id, max_age=MAX_SECONDS, path="/", httponly=True,
                        samesite="Strict", secure=_over_https())


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=_over_https())


def no_store(response: Response) -> Response:
    """after_request: an answer made with the session is never cached (it holds one person's data)."""
    if g.get(SESSION_USED):
        response.headers["Cache-Control"] = "no-store"
    return response
