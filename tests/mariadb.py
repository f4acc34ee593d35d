"""A throwaway MariaDB server for the test run: its own datadir, a free loopback port, killed with us."""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pymysql

from wamulti.config import Settings

USER, PASSWORD = "wamulti", "test-password-1"
SBIN = ("/usr/sbin", "/usr/bin", "/sbin")


def find_binary(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in SBIN if os.access(f"{d}/{name}", os.X_OK)), None)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies, even by SIGKILL."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DatabaseLogin:
    """What a test server gives the service to log in with: its environment and its Settings.

    Subclasses set host, port, user, password and _names (a counter), and give root()."""

    host: str
    port: int
    user: str
    password: str

    def create_database(self) -> str:
        """A new empty database with a name of this process's own (root(): the subclass's admin login)."""
        name = f"wa_test_{os.getpid()}_{next(self._names)}"
        con = self.root()
        with con.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        con.close()
        return name

    def env(self, database: str) -> dict[str, str]:
        return {"DB_HOST": self.host, "DB_PORT": str(self.port), "DB_USER": self.user,
                "DB_PASSWORD": self.password, "DB_NAME": database}

    def settings(self, database: str, **overrides) -> Settings:
        values = dict(api_key="t" * 16, db_host=self.host, db_port=self.port, db_user=self.user,
                      db_password=self.password, db_name=database, db_pool_size=8)
        values.update(overrides)
        return Settings(**values)


class MariaDB(DatabaseLogin):
    """Start with start(); stop()/start() again keep the datadir and port (outage drills)."""

    def __init__(self):
        self.mariadbd = find_binary("mariadbd") or find_binary("mysqld")
        self.install_db = find_binary("mariadb-install-db") or find_binary("mysql_install_db")
        self.base = Path(tempfile.mkdtemp(prefix="wamulti-mariadb-"))
        self.datadir, self.socket = self.base / "data", str(self.base / "mysqld.sock")
        self.tmpdir = self.base / "tmp"
        self.host, self.port = "127.0.0.1", _free_port()
        self.user, self.password = USER, PASSWORD
        self.proc: subprocess.Popen | None = None
        self._names = itertools.count(1)
        self._log = self.base / "mysqld.log"

    def install(self) -> None:
        # a temporary directory of its own: bootstraps running side by side (pytest -n) in the shared
        # /tmp failed now and then on each other's temporary tables ("Unknown table 'mysql.tmp_user_sys'")
        self.tmpdir.mkdir(exist_ok=True)
        subprocess.run([self.install_db, "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                        "--auth-root-authentication-method=socket", "--skip-test-db"],
                       check=True, capture_output=True, timeout=120, env={**os.environ, "TMPDIR": str(self.tmpdir)})

    def start(self, timeout: float = 60.0) -> None:
        args = [self.mariadbd, "--no-defaults", "--user=root", f"--datadir={self.datadir}",
                f"--socket={self.socket}", f"--port={self.port}", f"--tmpdir={self.tmpdir}", "--bind-address=127.0.0.1",
                "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
                "--max-allowed-packet=64M", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M",
                "--skip-log-bin", "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
                f"--log-error={self._log}", f"--pid-file={self.base / 'mysqld.pid'}"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while True:
            try:
                pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=2).close()
                return
            except pymysql.err.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mariadbd did not start:\n{self._log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.05)  # readiness: the server takes ~0.1 s

    def setup_user(self) -> None:
        con = pymysql.connect(unix_socket=self.socket, user="root", autocommit=True)
        with con.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (self.user, self.password))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO %s@'127.0.0.1'", (self.user,))
        con.close()

    def root(self):
        """A root connection over the socket (admin work in tests)."""
        return pymysql.connect(unix_socket=self.socket, user="root", autocommit=True)

    def new_database(self) -> str:
        return self.create_database()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def destroy(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.base, ignore_errors=True)
