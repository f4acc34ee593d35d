"""One server per DATA_DIR (the embedded SQLite store serves one process): a second server on the
same DATA_DIR stops at once with one clear line, and a killed holder leaves DATA_DIR free (the
kernel drops its lock)."""

import subprocess
import sys

import pytest

from tests.server_process import ROOT, ServerProcess
from wamulti.config import ConfigError, settings_from_env
from wamulti.store.data_dir_lock import lock_data_dir
from wamulti.store.sqlite_store import SQLiteStore


def _second_server(first: ServerProcess) -> subprocess.CompletedProcess:
    env = {**first.env, "PORT": "0"}
    return subprocess.run([sys.executable, "wsgi.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_second_server_on_one_data_dir_is_refused_with_one_line(tmp_path):
    first = ServerProcess(tmp_path / "data").start()
    try:
        second = _second_server(first)
        assert second.returncode == 2
        lines = [line for line in second.stderr.splitlines() if "DATA_DIR" in line]
        assert len(lines) == 1, second.stderr
        assert f"in use by another wamulti process (pid {first.proc.pid})" in lines[0]
        assert "Traceback" not in second.stderr
        assert first.request("GET", "/healthz", key=None).status == 200  # the first serves on
    finally:
        first.kill()
    again = ServerProcess(tmp_path / "data").start()  # SIGKILL left no stale lock behind
    again.close()


def test_the_lock_is_the_servers_a_store_may_be_read_beside_it(tmp_path):
    first = ServerProcess(tmp_path / "data").start()
    try:
        reader = SQLiteStore(tmp_path / "data")  # a tool or a test reading the store: no lock taken
        assert reader.list_clients() == []
        reader.close()
        probe = subprocess.run([sys.executable, "-c", "import sys; from wamulti.store.data_dir_lock import "
                                "lock_data_dir; lock_data_dir(sys.argv[1])", str(tmp_path / "data")],
                               cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert probe.returncode != 0 and "DataDirInUse" in probe.stderr
        (tmp_path / "elsewhere").mkdir()
        lock_data_dir(tmp_path / "elsewhere")  # another directory is free; again in one process: no error
        lock_data_dir(tmp_path / "elsewhere")
    finally:
        first.close()


def test_cluster_needs_mysql():
    with pytest.raises(ConfigError, match="CLUSTER=on needs the MySQL store"):
        settings_from_env({"API_KEY": "k" * 32, "CLUSTER": "on"})
    assert settings_from_env({"API_KEY": "k" * 32, "DB_HOST": "db", "DB_NAME": "w", "CLUSTER": "on"}).cluster
    assert not settings_from_env({"API_KEY": "k" * 32}).cluster
