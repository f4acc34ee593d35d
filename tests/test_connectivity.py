"""The connectivity gate (backends/connectivity.py) and its probe (backends/netprobe.py).

The classification is checked on errors the real library produced here, through a loopback proxy
(a child process: Go reads HTTPS_PROXY when the process starts); the probe against real loopback
proxies and listeners; the gate with a scripted probe (a named test double) and with the real one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.loopback_proxy import LoopbackProxy
from tests.offline import require_offline_proxy
from tests.server_process import ROOT
from wamulti.backends import netprobe
from wamulti.backends.connectivity import ConnectivityGate, DialFailure, classify, why_down
from wamulti.backends.netprobe import Route, bypassed, route_from_environment
from wamulti.config import Settings

DIAL = 'failed to dial whatsapp web websocket: failed to WebSocket dial: failed to send handshake request: '
GET = 'Get "https://web.whatsapp.com/ws/chat": '


# ---- classification --------------------------------------------------------------------------
CHILD = """
import json, sys
from pathlib import Path
from wamulti.config import Settings
from wamulti.backends.neonize.neonize_backend import NeonizeBackend
from wamulti.backends import backend_api as bk
backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=Path(sys.argv[1]), log_level="ERROR"))
raw = []
report = backend.connectivity.dial_failed
backend.connectivity.dial_failed = lambda text: (raw.append(text), report(text))[1]
for line in sys.stdin:
    session = backend.new_session("c", Path(sys.argv[1]) / "c.session", lambda e: None)
    try:
        session.connect()
    except bk.ConnectFailed:
        pass
    session.stop()
    print(json.dumps(raw[-1]), flush=True)
"""


def test_the_real_librarys_dial_errors_are_classified(tmp_path):
    require_offline_proxy()
    pytest.importorskip("neonize")
    proxy = LoopbackProxy()
    env = {**os.environ, "HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url, "PYTHONPATH": str(ROOT)}
    env.pop("NO_PROXY", None)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    expected = {"bad_gateway": DialFailure.NETWORK, "forbidden": DialFailure.NETWORK,
                "tunnel_eof": DialFailure.REACHED, "drop": DialFailure.SUSPECT}
    try:
        errors = {}
        for mode in expected:
            proxy.switch(mode)
            child.stdin.write("dial\n")
            child.stdin.flush()
            errors[mode] = json.loads(child.stdout.readline())
    finally:
        child.kill()
        child.wait(10)
        proxy.close()
    assert errors["bad_gateway"].endswith(GET + "Bad Gateway"), errors
    assert errors["tunnel_eof"].endswith(GET + "EOF"), errors
    assert {mode: classify(text) for mode, text in errors.items()} == expected, errors


def test_a_refused_proxy_in_this_process_is_a_network_failure(tmp_path):
    """The dead loopback proxy of the test run: the real library's text, straight from connect()."""
    require_offline_proxy()
    neonize = pytest.importorskip("wamulti.backends.neonize.neonize_backend")
    backend = neonize.NeonizeBackend(Settings(api_key="k" * 16, data_dir=tmp_path, log_level="ERROR"))
    seen = []
    report = backend.connectivity.dial_failed
    backend.connectivity.dial_failed = lambda text: (seen.append(text), report(text))[1]
    session = backend.new_session("r", tmp_path / "r.session", lambda e: None)
    with pytest.raises(Exception):
        session.connect()
    session.stop()
    backend.close()
    assert "proxyconnect tcp: dial tcp 127.0.0.1:9" in seen[0] and classify(seen[0]) is DialFailure.NETWORK
    assert not backend.connectivity.is_open


@pytest.mark.parametrize("text, kind", [
    (DIAL + GET + "dial tcp: lookup web.whatsapp.com on 10.0.0.53:53: no such host", DialFailure.NETWORK),
    (DIAL + GET + "dial tcp 157.240.0.53:443: connect: network is unreachable", DialFailure.NETWORK),
    (DIAL + GET + "dial tcp 157.240.0.53:443: i/o timeout", DialFailure.NETWORK),
    (DIAL + GET + "Proxy Authentication Required", DialFailure.NETWORK),
    (DIAL + GET + "unknown status code", DialFailure.NETWORK),
    (DIAL + GET + "net/http: TLS handshake timeout", DialFailure.REACHED),  # measured: tunnel up, TLS hangs 10 s
    (DIAL + GET + "tls: failed to verify certificate: x509: certificate signed by unknown authority",
     DialFailure.REACHED),
    (DIAL + "failed to WebSocket dial: expected handshake response status code 101 but got 503", DialFailure.REACHED),
    (DIAL + GET + "context deadline exceeded", DialFailure.SUSPECT),  # measured: a proxy that never answers, 60 s
    (DIAL + GET + "read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer", DialFailure.SUSPECT),
    ("noise handshake failed: failed to read frame", DialFailure.REACHED),
])
def test_classification_of_go_texts(text, kind):
    assert classify(text) is kind


def test_what_a_waiting_client_shows_is_the_informative_part():
    assert why_down(DIAL + GET + "Bad Gateway") == "the proxy answered Bad Gateway"
    assert why_down(DIAL + GET + "dial tcp: lookup web.whatsapp.com on 10.0.0.53:53: no such host") == \
        "dial tcp: lookup web.whatsapp.com on 10.0.0.53:53: no such host"
    assert len(why_down(DIAL + GET + "x" * 500)) == 160


# ---- the route (Go's ProxyFromEnvironment) -----------------------------------------------------
def test_the_route_follows_gos_proxy_variables():
    assert route_from_environment({}) == Route()
    assert route_from_environment({"HTTP_PROXY": "http://p:3128"}) == Route(), "HTTP_PROXY never applies to https"
    assert route_from_environment({"HTTPS_PROXY": "p.corp:3128"}) == Route("http", "p.corp", 3128)
    assert route_from_environment({"https_proxy": "http://p"}) == Route("http", "p", 80)
    assert route_from_environment({"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2"}).proxy_host == "a"
    assert route_from_environment({"HTTPS_PROXY": "", "https_proxy": "http://b:2"}).proxy_host == "b"
    assert route_from_environment({"HTTPS_PROXY": "https://p"}) == Route("https", "p", 443)
    assert route_from_environment({"HTTPS_PROXY": "socks5://p"}) == Route("socks5", "p", 1080)
    with_user = route_from_environment({"HTTPS_PROXY": "http://me:s%40cret@p:8080"})
    assert with_user.proxy_auth == "me:s@cret" and "cret" not in with_user.describe()
    assert route_from_environment({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "whatsapp.com"}) == Route()
    assert route_from_environment({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}) == Route()


@pytest.mark.parametrize("no_proxy, bypass", [
    ("whatsapp.com", True), (".whatsapp.com", True), ("*.whatsapp.com", True), ("web.whatsapp.com", True),
    ("WEB.WhatsApp.com:443", True), ("web.whatsapp.com:80", False), ("example.com, whatsapp.com", True),
    ("eb.whatsapp.com", False), (".web.whatsapp.com", False), ("157.240.0.0/16,10.0.0.1", False),
    ("*", True), ("", False), ("localhost,127.0.0.1", False),
])
def test_no_proxy_matches_like_go(no_proxy, bypass):
    assert bypassed(no_proxy, "web.whatsapp.com", 443) is bypass


# ---- the probe ---------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_through_a_proxy_needs_a_200_to_connect():
    proxy = LoopbackProxy("bad_gateway")
    try:
        route = route_from_environment({"HTTPS_PROXY": "http://u:p@127.0.0.1:%d" % proxy.port})
        assert "502 Bad Gateway" in netprobe.probe(route, timeout=5)
        proxy.switch("forbidden")
        assert "403 Forbidden" in netprobe.probe(route, timeout=5)
        proxy.switch("drop")
        dropped = netprobe.probe(route, timeout=5)  # EOF or a reset, as the timing falls
        assert "without an answer" in dropped or "proxy unreachable (Connection reset" in dropped
        proxy.switch("tunnel_eof")
        assert netprobe.probe(route, timeout=5) is None
        assert proxy.headers[-1][0] == "CONNECT web.whatsapp.com:443 HTTP/1.1"
        assert "Proxy-Authorization: Basic dTpw" in proxy.headers[-1]  # base64("u:p")
    finally:
        proxy.close()
    dead = route_from_environment({"HTTPS_PROXY": f"127.0.0.1:{closed_port()}"})
    assert "proxy unreachable" in netprobe.probe(dead, timeout=5)


def test_probe_without_a_proxy_connects_to_the_endpoint_and_leaks_nothing():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    target = ("localhost", listener.getsockname()[1])  # resolved like any name (from /etc/hosts)
    before = len(os.listdir("/proc/self/fd"))
    try:
        for _ in range(20):
            assert netprobe.probe(Route(), timeout=5, target=target) is None
            listener.accept()[0].close()
    finally:
        listener.close()
    assert len(os.listdir("/proc/self/fd")) <= before
    assert "endpoint unreachable" in netprobe.probe(Route(), timeout=5, target=("127.0.0.1", closed_port()))


# ---- the gate ----------------------------------------------------------------------------------
class ScriptedProbe:
    """Test double of the probe: answers from a list (None: up), then stays up; records call times."""

    def __init__(self, *answers: str | None):
        self.answers = list(answers)
        self.calls: list[float] = []

    def __call__(self) -> str | None:
        self.calls.append(time.monotonic())
        return self.answers.pop(0) if self.answers else None


class HeldProbe:
    """Test double of the probe: the network stays down until `release()`."""

    def __init__(self):
        self.up = threading.Event()

    def __call__(self) -> str | None:
        return None if self.up.is_set() else "down"


class Waiter:
    def __init__(self):
        self.delays: list[float] = []
        self.called = threading.Event()

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.called.set()


REFUSED = DIAL + GET + "proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused"


def test_a_network_failure_closes_the_gate_and_the_probe_reopens_it_with_backoff():
    probe = ScriptedProbe("down", "down", None)
    gate = ConnectivityGate(probe, probe_first=0.1, probe_cap=0.3)
    assert gate.wait(Waiter()) is None, "open: dial now"
    started = time.monotonic()
    assert gate.dial_failed(REFUSED) is DialFailure.NETWORK
    waiters = [Waiter() for _ in range(3)]
    shown = {gate.wait(w) for w in waiters}
    assert shown == {"waiting_for_network: proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused"}
    assert gate.waiting == 3
    assert all(w.called.wait(5) for w in waiters)
    gaps = [b - a for a, b in zip([started, *probe.calls], probe.calls)]
    assert len(probe.calls) == 3 and 0.08 < gaps[0] < 0.5 and 0.15 < gaps[1] and 0.25 < gaps[2] < 1.0, gaps
    assert gate.is_open and gate.waiting == 0 and all(0 <= w.delays[0] <= 2.0 for w in waiters)
    gate.close()


def test_what_reached_the_endpoint_leaves_the_gate_open_and_probes_nothing():
    probe = ScriptedProbe()
    gate = ConnectivityGate(probe, probe_first=0.05)
    assert gate.dial_failed(DIAL + GET + "EOF") is DialFailure.REACHED
    assert gate.dial_failed("noise handshake failed: EOF") is DialFailure.REACHED
    time.sleep(0.2)
    assert gate.is_open and probe.calls == [] and gate.failed_dials == 2
    gate.close()


def test_a_suspect_failure_is_checked_at_once_and_closes_only_if_the_probe_fails():
    up = ScriptedProbe()
    gate = ConnectivityGate(up, probe_first=0.05)
    gate.dial_failed(DIAL + GET + "unexpected EOF")
    wait_for(lambda: len(up.calls) == 1)
    time.sleep(0.1)
    assert gate.is_open
    down = ScriptedProbe("proxy unreachable (Connection refused)", None)
    gate = ConnectivityGate(down, probe_first=0.2)
    gate.dial_failed(DIAL + GET + "unexpected EOF")
    wait_for(lambda: not gate.is_open)
    assert gate.wait(Waiter()) == "waiting_for_network: proxy unreachable (Connection refused)"
    wait_for(lambda: gate.is_open)
    gate.close()


def test_waiting_clients_are_released_spread_over_a_window_that_grows_with_their_number():
    probe = HeldProbe()  # down until every client waits: a busy machine may register them slowly
    gate = ConnectivityGate(probe, probe_first=0.05, probe_cap=0.05)
    gate.dial_failed(REFUSED)
    waiters = [Waiter() for _ in range(1000)]
    for w in waiters:
        gate.wait(w)
    gate.forget(waiters[0])  # a client stopped meanwhile
    probe.up.set()
    wait_for(lambda: all(w.called.is_set() for w in waiters[1:]))
    assert not waiters[0].called.is_set()
    delays = [w.delays[0] for w in waiters[1:]]
    per_second = [sum(1 for d in delays if s <= d < s + 1) for s in range(60)]
    assert max(delays) <= 40.0 and min(delays) >= 0.0  # 999 x 40 ms, within the 60 s cap
    assert max(per_second) < 60 and sum(1 for n in per_second[:40] if n) == 40, per_second
    held = HeldProbe()
    few = ConnectivityGate(held, probe_first=0.05, probe_cap=0.05)
    few.dial_failed(REFUSED)
    one = Waiter()
    few.wait(one)
    held.up.set()
    assert one.called.wait(5) and one.delays[0] <= 2.0  # a few clients: within 2 s


def test_past_the_dial_budget_dialling_pauses_and_nobody_is_called_back():
    gate = ConnectivityGate(ScriptedProbe(), dial_budget=2, probe_first=0.05)
    gate.dial_failed(DIAL + GET + "EOF")
    assert gate.paused() is None
    gate.dial_failed(DIAL + GET + "EOF")
    waiter = Waiter()
    assert gate.wait(waiter).startswith("dialling_paused: 2 failed dials")
    assert gate.paused() is not None and not waiter.called.wait(0.3)


def test_the_gate_over_a_real_proxy_closes_and_opens_with_it():
    proxy = LoopbackProxy("bad_gateway")
    gate = ConnectivityGate.from_environment({"HTTPS_PROXY": proxy.url}, probe_first=0.1, probe_cap=0.2)
    try:
        gate.dial_failed(DIAL + GET + "Bad Gateway")
        waiter = Waiter()
        assert gate.wait(waiter) == "waiting_for_network: the proxy answered Bad Gateway"
        wait_for(lambda: proxy.count() >= 2)  # the probe's CONNECTs
        assert not gate.is_open and not waiter.called.is_set()
        proxy.switch("tunnel_eof")
        assert waiter.called.wait(5) and gate.is_open
    finally:
        gate.close()
        proxy.close()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)
