"""Can WhatsApp's endpoint be reached, seen the way whatsmeow sees it? One probe, in Python.

whatsmeow dials `wss://web.whatsapp.com/ws/chat` (socket/constants.go) through coder/websocket,
which sends it as an https request, with a clone of Go's `http.DefaultTransport`, whose proxy is
`http.ProxyFromEnvironment` (client.go). Go's rules (golang.org/x/net/http/httpproxy), which the
library reads once, when the process starts:
- an https request uses HTTPS_PROXY (if empty, https_proxy); HTTP_PROXY never applies to it;
- a value with no scheme, or one other than http/https/socks5, is read as `http://<value>`;
- NO_PROXY (if empty, no_proxy): `*` means never; otherwise comma-separated entries, lowercased:
  `foo.com` matches foo.com and its subdomains, `.foo.com` and `*.foo.com` its subdomains only,
  an entry may name a port (`foo.com:443`); IP and CIDR entries never match a host name.

What counts as up: through an http proxy, a CONNECT to web.whatsapp.com:443 answered 200 (Go takes
nothing else); through an https proxy the same over TLS; through a socks5 proxy, a TCP connect to
the proxy (no more is checked); without a proxy, DNS resolution and a TCP connect to port 443.
A probe closes everything it opened: unlike a dial of the library, it leaks nothing.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import unquote, urlsplit

TARGET = ("web.whatsapp.com", 443)
PROBE_TIMEOUT = 10.0  # seconds for the whole probe (connect, and the proxy's answer)
PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080}
MAX_ANSWER = 8192  # bytes of a proxy's answer read before giving up on it


@dataclass(frozen=True)
class Route:
    """How the library reaches TARGET: directly, or through one proxy."""

    proxy_scheme: str | None = None  # http, https or socks5; None: directly
    proxy_host: str | None = None
    proxy_port: int | None = None
    proxy_auth: str | None = None  # "user:password" from the proxy URL, sent as Proxy-Authorization

    def describe(self) -> str:
        """For logs: never the credentials."""
        if self.proxy_host is None:
            return f"directly to {TARGET[0]}:{TARGET[1]}"
        return f"through the proxy {self.proxy_scheme}://{self.proxy_host}:{self.proxy_port}"


def _env(env: Mapping[str, str], upper: str) -> str:
    return env.get(upper) or env.get(upper.lower()) or ""


def route_from_environment(env: Mapping[str, str] | None = None) -> Route:
    """The route Go's ProxyFromEnvironment picks for TARGET under `env` (default: os.environ)."""
    env = os.environ if env is None else env
    proxy = _parse_proxy(_env(env, "HTTPS_PROXY"))
    if proxy is None or bypassed(_env(env, "NO_PROXY"), *TARGET):
        return Route()
    return proxy


def _parse_proxy(value: str) -> Route | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in PROXY_PORTS:
        parts = urlsplit("http://" + value)
    try:
        port = parts.port or PROXY_PORTS[parts.scheme]
    except ValueError:  # Go ignores a proxy it cannot parse, and dials directly
        return None
    if not parts.hostname:
        return None
    auth = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}" if parts.username else None
    return Route(parts.scheme, parts.hostname, port, auth)


def bypassed(no_proxy: str, host: str, port: int) -> bool:
    """Whether a NO_PROXY value sends host:port around the proxy (Go's domain rules; see above)."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        name, _, entry_port = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if not name or _is_ip_or_cidr(name) or (entry_port and entry_port != str(port)):
            continue
        if name.startswith("*."):
            name = name[1:]
        if host.endswith(name if name.startswith(".") else "." + name) or host == name:
            return True
    return False


def _is_ip_or_cidr(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(text, strict=False)
        return True
    except ValueError:
        return False


def probe(route: Route, timeout: float = PROBE_TIMEOUT, target: tuple[str, int] = TARGET) -> str | None:
    """None when `target` (WhatsApp's endpoint) can be reached over `route`, else a short reason why not."""
    try:
        if route.proxy_host is None:
            with socket.create_connection(target, timeout):
                return None
        with socket.create_connection((route.proxy_host, route.proxy_port), timeout) as raw:
            if route.proxy_scheme == "socks5":
                return None
            if route.proxy_scheme == "https":
                context = ssl.create_default_context()
                with context.wrap_socket(raw, server_hostname=route.proxy_host) as tls:
                    return _connect_through(tls, route, target)
            return _connect_through(raw, route, target)
    except socket.gaierror as exc:
        return f"no address for the {'proxy' if route.proxy_host else 'endpoint'} ({exc.strerror or exc})"
    except (OSError, ssl.SSLError) as exc:
        return f"{'proxy' if route.proxy_host else 'endpoint'} unreachable ({exc.strerror or exc})"


def _connect_through(sock: socket.socket, route: Route, target: tuple[str, int]) -> str | None:
    """Ask the proxy for a tunnel as Go does; only a 200 is a tunnel."""
    authority = f"{target[0]}:{target[1]}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if route.proxy_auth is not None:
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(route.proxy_auth.encode()).decode())
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = b""
    while b"\r\n" not in answer and len(answer) < MAX_ANSWER:
        chunk = sock.recv(1024)
        if not chunk:
            return "the proxy closed the connection without an answer"
        answer += chunk
    status = answer.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    if len(status) >= 2 and status[1] == "200":
        return None
    return f"the proxy answered {' '.join(status[1:])[:80] or 'nothing readable'}"
