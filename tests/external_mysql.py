"""WAMULTI_TEST_MYSQL=host:port:user:password: the MySQL tests on a server of yours (MySQL 8/9) instead
of the throwaway MariaDB. The user needs CREATE and DROP on databases named wa_test_*; each test's
database is dropped at the end of the run. Tests that stop and start the server skip."""

from __future__ import annotations

import itertools

import pymysql
import pytest

from tests.mariadb import DatabaseLogin

ENV = "WAMULTI_TEST_MYSQL"


class ExternalMySQL(DatabaseLogin):
    """The `mariadb` fixture's interface over a running server the tests neither start nor stop."""

    mariadbd = install_db = "external"

    def __init__(self, spec: str):
        host, port, self.user, self.password = spec.split(":", 3)
        self.host, self.port = host, int(port)
        self._names = itertools.count(1)
        self._made: list[str] = []

    def root(self):
        """An admin connection (the given user: the tests' admin work needs no more than its grants)."""
        return pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                               autocommit=True)

    def new_database(self) -> str:
        name = self.create_database()
        self._made.append(name)
        return name

    def stop(self) -> None:
        pytest.skip(f"{ENV}: the tests do not stop a server they did not start")

    def start(self) -> None:
        pytest.skip(f"{ENV}: the tests do not start a server they did not start")

    def destroy(self) -> None:
        con = self.root()
        with con.cursor() as cur:
            for name in self._made:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        con.close()
