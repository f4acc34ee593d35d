"""nginx for a test: deploy/wamulti-nginx.conf on a loopback port in front of a test server.

The deploy file is used as written except where it must differ here: it listens on 127.0.0.1 at a
free port, and its upstream is the test server's port. Around it a minimal main configuration keeps
everything (pid, logs, temporary files) in a directory of its own, and a second server on another
port shows nginx's connection counts (stub_status).
"""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.mariadb import _die_with_parent, find_binary
from tests.server_process import ROOT, free_port

DEPLOY_FILE = ROOT / "deploy" / "wamulti-nginx.conf"
MAIN = """worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    include {base}/wamulti.conf;
    server {{
        listen 127.0.0.1:{status_port};
        location = /status {{ stub_status; }}
    }}
}}
"""


def render(deploy_text: str, port: int, upstream_port: int) -> str:
    """The deploy file listening on 127.0.0.1:port only, its upstream at 127.0.0.1:upstream_port."""
    text, listens = re.subn(r"(?m)^(\s*)listen\s+80;$", rf"\1listen 127.0.0.1:{port};", deploy_text)
    text, ipv6 = re.subn(r"(?m)^\s*listen\s+\[::\]:80;\n", "", text)
    text, upstreams = re.subn(r"server 127\.0\.0\.1:3000;", f"server 127.0.0.1:{upstream_port};", text)
    assert (listens, ipv6, upstreams) == (1, 1, 1), "deploy/wamulti-nginx.conf changed its listen or upstream lines"
    return text


class Nginx:
    """An nginx master in the foreground (daemon off), killed with the test process."""

    def __init__(self, upstream_port: int):
        self.binary = find_binary("nginx")
        self.port, self.status_port, self.upstream_port = free_port(), free_port(), upstream_port
        self.base = Path(tempfile.mkdtemp(prefix="wamulti-nginx-"))
        self.base.chmod(0o755)  # run as root, nginx's workers are `nobody`: they must reach their temp files
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "Nginx":
        (self.base / "wamulti.conf").write_text(render(DEPLOY_FILE.read_text(), self.port, self.upstream_port))
        conf = self.base / "nginx.conf"
        conf.write_text(MAIN.format(base=self.base, status_port=self.status_port))
        self.proc = subprocess.Popen([self.binary, "-p", str(self.base), "-c", str(conf), "-e",
                                      str(self.base / "error.log"), "-g", "daemon off;"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while self.active_connections() is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"nginx did not start:\n{self.error_log()}")
            time.sleep(0.05)  # readiness: nginx takes a few ms
        return self

    def active_connections(self) -> int | None:
        """Client connections nginx holds now (stub_status's count, less the one asking), None if down."""
        conn = http.client.HTTPConnection("127.0.0.1", self.status_port, timeout=2)
        try:
            conn.request("GET", "/status")
            body = conn.getresponse().read().decode()
        except OSError:
            return None
        finally:
            conn.close()
        return int(re.search(r"Active connections:\s*(\d+)", body).group(1)) - 1

    def error_log(self) -> str:
        path = self.base / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        """Fast shutdown (SIGTERM), then the directory goes."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.base, ignore_errors=True)
