"""WhatsApp's reasons, as stable `lastError` values (docs/api.md lists them).

WhatsApp (whatsmeow's `events.ConnectFailureReason`, `events.TempBanReason`) gives numeric codes;
a client keeps the code and a short text, so an operator can tell an unlinked device (401) from a
locked account (403) or a ban (406). A temporary ban's expiry is written into the value itself
(`... (until 2026-12-01T10:00:00Z)`), so the row a restart reads keeps it without a schema change;
`retry_at_of` reads it back. Pure functions, no library imports: any backend may use them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

LOGGED_OUT = "logged_out"
TEMPORARY_BAN = "temporary_ban"
CONNECT_FAILURE = "connect_failure"

LOGOUT_TEXTS = {401: "unlinked from the phone", 403: "account locked", 406: "banned"}
"""whatsmeow deletes the device for these (ConnectFailureReason.IsLoggedOut); 403 and 406 are
what WhatsApp Web calls LOCKED and BANNED."""

FAILURE_TEXTS = {400: "generic failure", 402: "temporarily banned", 405: "client outdated",
                 409: "user agent rejected", 413: "crypto auth token expired",
                 414: "crypto auth token invalid", 415: "not found", 418: "client unknown",
                 500: "internal server error", 501: "experimental", 503: "service unavailable"}

BAN_TEXTS = {101: "too many messages to people who do not have the number saved",
             102: "blocked by too many people", 103: "created too many groups with strangers",
             104: "sent the same message to too many people", 106: "too many messages to a broadcast list"}

_UNTIL = re.compile(r"\(until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)$")
_ISO = "%Y-%m-%dT%H:%M:%SZ"


REASON_LIMIT = 200  # characters of a library's error text kept in lastError


def clip(text: str, limit: int = REASON_LIMIT) -> str:
    """`text` on one line, at most `limit` characters, cut after a whole word and ended with '…' if longer."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    # cut at the last space, unless that leaves too little (one very long token, like a URL)
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,;:") + "…"


def _coded(table: dict[int, str], code: int | None) -> str:
    if code is None:
        return "unknown reason"
    return f"{code} {table.get(code, 'unknown reason')}"


def logged_out(code: int | None) -> str:
    """`logged_out: 401 unlinked from the phone`, `... 403 account locked`, `... 406 banned`."""
    return f"{LOGGED_OUT}: {_coded(LOGOUT_TEXTS, code)}"


def connect_failure(code: int | None, message: str = "") -> str:
    """`connect_failure: 409 user agent rejected`, with WhatsApp's own message appended if it sent one."""
    text = f"{CONNECT_FAILURE}: {_coded(FAILURE_TEXTS, code)}"
    message = " ".join(message.split())[:120]
    return f"{text} ({message})" if message else text


def is_retryable(code: int | None) -> bool:
    """5xx: WhatsApp's side had trouble; the same keys may connect again after a backoff."""
    return code is not None and 500 <= code < 600


def temporary_ban(code: int | None, until: datetime) -> str:
    """`temporary_ban: 101 <why> (until 2026-12-01T10:00:00Z)`; `until` is rounded up to the second."""
    until = until.astimezone(timezone.utc)
    if until.microsecond:  # never earlier than WhatsApp said
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    return f"{TEMPORARY_BAN}: {_coded(BAN_TEXTS, code)} (until {until.strftime(_ISO)})"


def retry_at_of(last_error: str | None) -> datetime | None:
    """The expiry a `temporary_ban` value carries (aware UTC), else None."""
    if not last_error or not last_error.startswith(TEMPORARY_BAN):
        return None
    found = _UNTIL.search(last_error)
    if found is None:
        return None
    return datetime.strptime(found.group(1), _ISO).replace(tzinfo=timezone.utc)



def seconds_until(moment: datetime | None) -> float:
    """Seconds from now until `moment` (aware), never negative; 0 for None (a ban's wait)."""
    if moment is None:
        return 0.0
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
