"""The destination policy: which hosts the service may connect to, checked when a URL is set and
again at every connect, on every address its name resolves to.

Checking only when a URL is set is not enough: a name can resolve to a public address then and to
127.0.0.1 a second later (DNS rebinding). So the connect resolves once, checks every address, and
dials only an address it checked (`connections`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from ..errors import DestinationNotAllowed
from .hosts import ascii_host, literal_address
from .ranges import IPAddress, refusal_rule

Network = IPv4Network | IPv6Network
Resolver = Callable[..., list]  # socket.getaddrinfo's signature and answer
LOOPBACK_NAME_AS = ip_address("127.0.0.1")  # 'localhost' and '*.localhost' are loopback (RFC 6761)


def allowed_networks(text: str) -> tuple[Network, ...]:
    """Networks from a comma-separated list of CIDRs ('127.0.0.0/8, ::1'); ValueError names the bad entry."""
    networks = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not a network like 127.0.0.0/8 or fd00::/8") from None
    return tuple(networks)


def _is_localhost(name: str) -> bool:
    name = name.rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


class DestinationPolicy:
    """Refuses every non-global address except those in `allow`; immutable, so thread-safe.

    `resolver` is socket.getaddrinfo unless a test gives its own (a name resolving inward must be
    refused before any packet goes out).
    """

    def __init__(self, allow: Iterable[Network] = (), resolver: Resolver = socket.getaddrinfo):
        self.allow = tuple(allow)
        self._resolver = resolver

    def rule_for(self, address: IPAddress) -> str | None:
        """The rule refusing `address`, or None when the service may connect to it."""
        if address.version == 6 and address.scope_id:
            address = type(address)(int(address))  # the zone (fe80::1%eth0) does not change the range
        if any(address.version == net.version and address in net for net in self.allow):
            return None
        return refusal_rule(address)

    def check_host(self, host: str, subject: str = "The URL") -> None:
        """Refuse a host that is, in any spelling, a refused address (or a localhost name)."""
        name = ascii_host(host)
        address = LOOPBACK_NAME_AS if _is_localhost(name) else literal_address(name)
        rule = self.rule_for(address) if address is not None else None
        if rule:
            raise DestinationNotAllowed(f"{subject} points to {rule}, which is not allowed.")

    def addresses(self, host: str, port: int, subject: str = "The host", check: bool = True) -> list[str]:
        """Every address `host` resolves to, in the resolver's order, each one checked (unless not
        `check`: a trusted destination); DestinationNotAllowed if any is refused."""
        name = ascii_host(host)
        literal = literal_address(name)
        if literal is not None:  # no lookup: dial the address '0x7f.1' and its kin mean (an IPv6 zone kept)
            found = [name.replace("%25", "%", 1) if literal.version == 6 else str(literal)]
        else:
            infos = self._resolver(name, port, type=socket.SOCK_STREAM)
            found = list(dict.fromkeys(info[4][0] for info in infos
                                       if info[0] in (socket.AF_INET, socket.AF_INET6)))
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "no address")
        for address in found if check else ():
            rule = self.rule_for(ip_address(address))
            if rule:
                verb = "is" if literal is not None else "resolves to"
                raise DestinationNotAllowed(f"{subject} {verb} {rule}, which is not allowed.")
        return found
