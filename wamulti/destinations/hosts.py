"""A URL host as resolvers read it: the ASCII (IDNA) form of a name, and every spelling of an IP.

Resolvers take more than dotted quads: `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` all mean
127.0.0.1 to inet_aton, and a Unicode host such as '①②⑦.0.0.1' becomes '127.0.0.1' once IDNA maps
it. The checks read a host the way it will be dialled, so no spelling slips past them.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address, ip_address

from .ranges import IPAddress

MAX_NAME_CHARS = 253
_V4_PART = re.compile(r"^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")


class UnusableHost(ValueError):
    """A host no resolver can be asked for; the message says why in a few words."""


def ascii_host(host: str) -> str:
    """The host as it is looked up and sent: lower case, IDNA-encoded, IPv6 without brackets."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in host):
        raise UnusableHost("the host name holds a space or a control character")
    if ":" in host:
        return host  # an IPv6 literal: IDNA does not apply
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnusableHost("a label of the host name is empty, longer than 63 characters or not "
                           "valid in a domain name") from None
    if not name or name == ".":
        raise UnusableHost("the host name is empty")
    if len(name.rstrip(".")) > MAX_NAME_CHARS:
        raise UnusableHost(f"the host name is longer than {MAX_NAME_CHARS} characters")
    return name


def _ipv4(name: str) -> IPv4Address | None:
    """The IPv4 address inet_aton reads from `name` (1-4 parts, each decimal, octal or hex), or None."""
    parts = name[:-1].split(".") if name.endswith(".") else name.split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.match(p) for p in parts):
        return None
    values = [int(p, 16) if p.startswith("0x") else int(p, 8) if p.startswith("0") else int(p)
              for p in (p if p != "0x" else "0x0" for p in parts)]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for index, value in enumerate(head):
        number += value << (8 * (3 - index))
    return IPv4Address(number)


def literal_address(host: str) -> IPAddress | None:
    """The IP address `host` spells (any spelling above, zone ids dropped), or None for a name."""
    name = ascii_host(host)
    if ":" in name:
        try:
            return IPv6Address(int(ip_address(name.split("%", 1)[0])))
        except ValueError:
            return None
    return _ipv4(name)
