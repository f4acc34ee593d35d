"""URLs as they are sent and as they are shown.

`sendable_url` turns a URL into the ASCII form http.client and the resolver accept (IDNA host,
non-ASCII and control characters percent-encoded), or refuses it with a reason; `masked_url`
hides a password in it.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from .hosts import UnusableHost, ascii_host

MASK = "****"
# Every printable ASCII character but the space stays as written (a '%' included: an escape the
# sender made stays one); anything else is percent-encoded as UTF-8.
_KEEP = "".join(chr(c) for c in range(0x21, 0x7F))


class UnsendableUrl(ValueError):
    """A URL that cannot be sent in any form; the message says why in a few words."""


def _encoded(part: str) -> str:
    try:
        return quote(part, safe=_KEEP)
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form
        raise UnsendableUrl("it holds a character that has no UTF-8 form") from None


def sendable_url(url: str) -> str:
    """The URL as it will be sent (scheme and host lower case, host IDNA-encoded, the rest
    percent-encoded where needed); UnsendableUrl when there is no such form."""
    parts = urlsplit(url)
    try:
        host = ascii_host(parts.hostname or "")
        port = parts.port
    except UnusableHost as exc:
        raise UnsendableUrl(str(exc)) from None
    except ValueError:
        raise UnsendableUrl("its port is not a number from 0 to 65535") from None
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{_encoded(userinfo)}@" if "@" in parts.netloc else "") + (f"[{host}]" if ":" in host else host)
    netloc += f":{port}" if port is not None else ""
    return urlunsplit((parts.scheme.lower(), netloc, _encoded(parts.path), _encoded(parts.query),
                       _encoded(parts.fragment)))


def masked_url(url: str) -> str:
    """The URL with the password of its user:password@ part as '****' (for answers and logs)."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostport}"))
