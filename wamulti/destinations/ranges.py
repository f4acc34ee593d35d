"""The address ranges the service refuses to connect to, each with the rule it is named by.

`ipaddress.is_global` is the last word, but it misses some ranges (multicast, IPv4-mapped and
-compatible, NAT64, 6to4, reserved IPv6 space) and names none, so the named table comes first.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

IPAddress = IPv4Address | IPv6Address


def _table(rows: list[tuple[str, str]]) -> list[tuple[IPv4Network | IPv6Network, str]]:
    return [(ip_network(net), rule) for net, rule in rows]


# First match wins: the narrower ranges come before the wider ones holding them.
V4_RULES = _table([
    ("0.0.0.0/8", "an unspecified address (0.0.0.0/8)"),
    ("10.0.0.0/8", "a private address (RFC 1918)"),
    ("100.64.0.0/10", "a shared address (CGNAT, 100.64.0.0/10)"),
    ("127.0.0.0/8", "a loopback address (127.0.0.0/8)"),
    ("169.254.0.0/16", "a link-local address (169.254.0.0/16, cloud metadata among them)"),
    ("172.16.0.0/12", "a private address (RFC 1918)"),
    ("192.0.0.0/24", "an IETF protocol address (192.0.0.0/24)"),
    ("192.0.2.0/24", "a documentation address (RFC 5737)"),
    ("192.88.99.0/24", "a 6to4 relay address (192.88.99.0/24)"),
    ("192.168.0.0/16", "a private address (RFC 1918)"),
    ("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
    ("198.51.100.0/24", "a documentation address (RFC 5737)"),
    ("203.0.113.0/24", "a documentation address (RFC 5737)"),
    ("224.0.0.0/4", "a multicast address (224.0.0.0/4)"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
])
V6_RULES = _table([
    ("::/128", "an unspecified address (::)"),
    ("::1/128", "a loopback address (::1)"),
    ("::ffff:0:0/96", "an IPv4-mapped IPv6 address (::ffff:0:0/96)"),
    ("::/96", "an IPv4-compatible IPv6 address (::/96)"),
    ("64:ff9b::/96", "a NAT64 address (64:ff9b::/96)"),
    ("64:ff9b:1::/48", "a NAT64 address (64:ff9b:1::/48)"),
    ("100::/64", "a discard-only address (100::/64)"),
    ("2001::/32", "a Teredo address (2001::/32)"),
    ("2001:2::/48", "a benchmarking address (2001:2::/48)"),
    ("2001:db8::/32", "a documentation address (2001:db8::/32)"),
    ("3fff::/20", "a documentation address (3fff::/20)"),
    ("fc00::/7", "a unique-local address (fc00::/7)"),
    ("fe80::/10", "a link-local address (fe80::/10)"),
    ("fec0::/10", "a site-local address (fec0::/10)"),
    ("ff00::/8", "a multicast address (ff00::/8)"),
])
SIX_TO_FOUR = ip_network("2002::/16")
GLOBAL_UNICAST = ip_network("2000::/3")
NOT_GLOBAL = "a reserved address (not globally routable)"


def refusal_rule(address: IPAddress) -> str | None:
    """The rule that refuses `address` (a phrase such as 'a private address (RFC 1918)'), or None."""
    if address.version == 6 and address.scope_id:
        address = IPv6Address(int(address))  # the zone (fe80::1%eth0) does not change the range
    rules = V4_RULES if address.version == 4 else V6_RULES
    rule = next((rule for net, rule in rules if address in net), None)
    if rule:
        return rule
    if address.version == 6 and address in SIX_TO_FOUR:
        embedded = refusal_rule(address.sixtofour)
        return f"a 6to4 address embedding {embedded}" if embedded else None
    if address.version == 6 and address not in GLOBAL_UNICAST:
        return "a reserved address (outside 2000::/3)"
    return None if address.is_global else NOT_GLOBAL
