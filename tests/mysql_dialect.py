"""What MySQL 8 does not accept but MariaDB does, and a recorder of every statement the MySQL store sends.

The tests run on MariaDB only (no MySQL server is installable here); a statement that MariaDB takes
and MySQL 8 refuses (or deprecates) would pass them unseen. Every statement the store's own
connections send is recorded and checked against the constructs below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql.connections

from wamulti.store.mysql_store import SESSION_SETUP

_I = re.IGNORECASE | re.DOTALL
MARIADB_ONLY: list[tuple[str, re.Pattern]] = [
    ("RETURNING (INSERT/DELETE/REPLACE ... RETURNING)", re.compile(r"\bRETURNING\b", _I)),
    ("IF NOT EXISTS / IF EXISTS on ALTER TABLE (ADD/DROP COLUMN, INDEX, KEY, CONSTRAINT)",
     re.compile(r"\bALTER\s+TABLE\b.*\b(ADD|DROP)\b[^,]*?\bIF\s+(NOT\s+)?EXISTS\b", _I)),
    ("CREATE INDEX IF NOT EXISTS", re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\b", _I)),
    ("DROP INDEX IF EXISTS", re.compile(r"\bDROP\s+INDEX\s+IF\s+EXISTS\b", _I)),
    ("CREATE OR REPLACE TABLE/INDEX/DATABASE", re.compile(r"\bCREATE\s+OR\s+REPLACE\s+(TABLE|INDEX|DATABASE)\b", _I)),
    ("VALUES() in ON DUPLICATE KEY UPDATE (deprecated since MySQL 8.0.20)",
     re.compile(r"\bON\s+DUPLICATE\s+KEY\s+UPDATE\b.*\bVALUES?\s*\(", _I)),
    ("assignment := outside SET (user variables in expressions, deprecated in MySQL 8)", re.compile(r":=", _I)),
    ("sequences (CREATE SEQUENCE, NEXTVAL, NEXT VALUE FOR, LASTVAL, SETVAL)",
     re.compile(r"\b(CREATE\s+SEQUENCE|NEXTVAL\s*\(|NEXT\s+VALUE\s+FOR|LASTVAL\s*\(|SETVAL\s*\()", _I)),
    ("LIMIT in an IN/ANY/ALL/SOME subquery", re.compile(r"\b(IN|ANY|ALL|SOME)\s*\(\s*SELECT\b[^()]*\bLIMIT\b", _I)),
    ("MariaDB-only functions", re.compile(
        r"\b(JSON_DETAILED|JSON_COMPACT|JSON_LOOSE|JSON_EXISTS|JSON_QUERY|JSON_NORMALIZE|JSON_EQUALS|"
        r"COLUMN_CREATE|COLUMN_GET|COLUMN_JSON|SYS_GUID|ADD_MONTHS|TO_CHAR|DECODE_ORACLE|NVL2?|"
        r"REGEXP_INSTR_ORACLE|SFORMAT|NATURAL_SORT_KEY|KDF)\s*\(", _I)),
    ("system versioning / temporal tables", re.compile(r"\b(WITH\s+SYSTEM\s+VERSIONING|FOR\s+SYSTEM_TIME)\b", _I)),
    ("MariaDB-only column types", re.compile(r"\b(INET4|INET6|UUID|VECTOR)\s+(NOT\s+)?NULL\b", _I)),
    ("WAIT n / NOWAIT on DDL", re.compile(r"\b(ALTER|DROP|CREATE)\b.*\b(WAIT\s+\d+|NOWAIT)\b", _I)),
    ("EXCEPT ALL / INTERSECT ALL", re.compile(r"\b(EXCEPT|INTERSECT)\s+ALL\b", _I)),
    ("OFFSET ... FETCH FIRST ... ROWS", re.compile(r"\bFETCH\s+(FIRST|NEXT)\s+\d*\s*ROWS?\b", _I)),
    ("KILL QUERY ID / SHUTDOWN WAIT FOR ALL", re.compile(r"\b(KILL\s+QUERY\s+ID|SHUTDOWN\s+WAIT\s+FOR)\b", _I)),
]

_LITERAL = re.compile(r"_binary'(?:[^'\\]|\\.)*'|'(?:[^'\\]|\\.)*'", re.DOTALL)


def without_literals(sql: str) -> str:
    """The statement with its string literals (data, not SQL) emptied."""
    return _LITERAL.sub("''", sql)


def mariadb_only(sql: str) -> list[str]:
    """The MariaDB-only constructs in one statement (none: MySQL 8 takes it as far as this list knows)."""
    text = without_literals(sql)
    if text.lstrip().upper().startswith("SET ") and ":=" in text:
        text = text.replace(":=", "=")  # SET @v := 1 is fine in MySQL 8
    return [name for name, pattern in MARIADB_ONLY if pattern.search(text)]


class StatementLog:
    """Every statement the MySQL store's own connections send (those set up with its SESSION_SETUP)."""

    def __init__(self):
        self.statements: list[str] = []

    def offending(self) -> dict[str, list[str]]:
        """Statement (cut to 300 characters) -> the MariaDB-only constructs found in it."""
        found = {}
        for sql in self.statements:
            names = mariadb_only(sql)
            if names:
                found[sql[:300]] = names
        return found


@contextmanager
def recording() -> Iterator[StatementLog]:
    """Record the store's statements while the block runs (PyMySQL's one door to the server, wrapped)."""
    log = StatementLog()
    original = pymysql.connections.Connection.query

    def query(self, sql, unbuffered=False):
        if self.init_command == SESSION_SETUP:
            log.statements.append(sql if isinstance(sql, str) else bytes(sql).decode("utf-8", "replace"))
        return original(self, sql, unbuffered)

    pymysql.connections.Connection.query = query
    try:
        yield log
    finally:
        pymysql.connections.Connection.query = original


# Words MySQL 8.0 reserved that MySQL 5.7 (and in part MariaDB) did not, with 8.4's additions: a
# column or table named so is a syntax error on MySQL 8 unless quoted.
MYSQL8_RESERVED = frozenset("""
    CUBE CUME_DIST DENSE_RANK EMPTY EXCEPT FIRST_VALUE FUNCTION GROUPING GROUPS JSON_TABLE LAG LAST_VALUE
    LATERAL LEAD NTH_VALUE NTILE OF OVER PERCENT_RANK RANK RECURSIVE ROW ROWS ROW_NUMBER SYSTEM WINDOW
    MANUAL PARALLEL QUALIFY TABLESAMPLE
""".split())
_TYPES = ("INT|INTEGER|BIGINT|SMALLINT|TINYINT|CHAR|VARCHAR|TEXT|MEDIUMTEXT|LONGTEXT|BLOB|MEDIUMBLOB|LONGBLOB|"
          "DATETIME|TIMESTAMP|DATE|BOOLEAN|BOOL|DECIMAL|DOUBLE|FLOAT|JSON|BINARY|VARBINARY|ENUM")
_NAMED = re.compile(rf"(?:\bTABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?|[(,]\s*)`?(\w+)`?(?=\s+(?:{_TYPES})\b|\s*\()", re.I)


def reserved_columns(create_table: str) -> list[str]:
    """The table and column names of a CREATE TABLE that MySQL 8 reserves (in their order)."""
    return [name for name in _NAMED.findall(without_literals(create_table)) if name.upper() in MYSQL8_RESERVED]
