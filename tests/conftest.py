"""Shared fixtures: a throwaway MariaDB server for the run, and a store of each kind."""

from __future__ import annotations

import os

import pytest

from tests.mariadb import MariaDB
from wamulti.config import Settings
from wamulti.store import open_store


@pytest.fixture(scope="session")
def mariadb():
    """A MariaDB server of our own on a free loopback port, for the whole test run."""
    server = MariaDB()
    if server.mariadbd is None or server.install_db is None:
        if os.environ.get("CI"):
            pytest.fail("mariadbd is not installed: CI must run the MySQL tests (./scripts/test installs it)")
        pytest.skip("mariadbd is not installed (./scripts/test installs it)")
    try:
        server.install()
        server.start()
        server.setup_user()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def sqlite_store(tmp_path):
    """A fresh embedded store (unit tests of the worker and registry)."""
    s = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "db"))
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "mysql"])
def store(request, tmp_path):
    """A fresh, empty store of each kind: the same tests run on both."""
    if request.param == "mysql":
        server = request.getfixturevalue("mariadb")
        s = open_store(server.settings(server.new_database()), wait_seconds=10)
    else:
        s = open_store(Settings(api_key="t" * 16, data_dir=tmp_path / "data"))
    yield s
    s.close()
