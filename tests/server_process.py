"""Run `python wsgi.py` as a real subprocess on a loopback port and talk to it over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


class ServerProcess:
    """One server process; env overrides on top of a simulator/test baseline."""

    def __init__(self, data_dir: Path, env: dict | None = None, stdin=subprocess.DEVNULL):
        self.port = free_port()
        self.data_dir = Path(data_dir)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SIM_", "WA_", "PAIRING_"))},
            "API_KEY": API_KEY, "HOST": "127.0.0.1", "PORT": str(self.port), "DATA_DIR": str(self.data_dir),
            "WA_BACKEND": "simulator", "PAIRING_CONSOLE": "off", "LOG_LEVEL": "INFO",
            "SIM_CONNECT_DELAY": "0.05", "SIM_PAIR_DELAY": "0.3", "SIM_SYNC_DELAY": "0.1",
            "SIM_SEND_DELAY": "0", "SEND_RATE_PER_MINUTE": "0",  # instant and uncapped unless a test says
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.stdin = stdin
        self.root = ROOT  # the tree whose wsgi.py runs (a benchmark may run an older one)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "wsgi.py"], cwd=self.root, env=self.env, stdin=self.stdin,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.request("GET", "/healthz", key=None, timeout=2).status in (200, 503):
                    return self
            except OSError:
                time.sleep(0.05)  # not listening yet
        raise AssertionError(f"server did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body=None, *, key: str | None = API_KEY, headers=None,
                timeout: float = 30.0) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if key is not None:
                hdrs["x-api-key"] = key
            data = body
            if body is not None and not isinstance(body, (bytes, str)):
                data = json.dumps(body)
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition", poll: float = 0.05):
        """Poll the API (bounded, every `poll` seconds) until predicate() returns a truthy value; return it."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached within {timeout}s")
            time.sleep(poll)

    def clients(self) -> list[dict]:
        resp = self.request("GET", "/api/clients")
        assert resp.status == 200, resp
        return resp.json

    def wait_all_ready(self, count: int, timeout: float = 60.0) -> float:
        started = time.monotonic()
        self.wait_for(lambda: (lambda cs: len(cs) == count and all(c["state"] == "READY" for c in cs))(self.clients()),
                      timeout, f"{count} clients READY")
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds until exit)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    def close(self) -> None:
        self.kill()
        if getattr(self, "_log", None):
            self._log.close()
