"""HeldConnection: the writer thread's SQLite connection, which keeps the GIL through its statements.

The stdlib module gives up the GIL around every statement. Under load (bench.sends) the writer
thread then waited ~0.5 ms to get it back after each statement, which itself took tens of
microseconds: its batches were ~3.5 ms of waiting for ~0.6 ms of work, and every accepted send
waited for them. Called through ctypes.PyDLL (which, unlike CDLL, does not give up the GIL), SQLite
runs the writer's statements in one go.

It drives the very SQLite library the stdlib module uses (two copies of SQLite in one process would
not see each other's file locks). open_held() returns None when that library cannot be reached
this way; the store then writes through the stdlib module as before. Only what the store's writes
use is here: execute/executemany, rowcount, lastrowid, fetchone/fetchall, in_transaction, close;
errors are the stdlib's exception classes. Two differences, both for the GIL's sake: no busy
handler (a BEGIN that finds the file locked is retried with sleeps that give the GIL up), and no
automatic checkpoint (it would fsync inside a COMMIT; the store checkpoints on another connection).
"""

from __future__ import annotations

import ctypes
import sqlite3
import time
from collections import OrderedDict
from ctypes import POINTER, byref, c_char_p, c_double, c_int, c_int64, c_void_p
from typing import Any

import _sqlite3

OK, BUSY, ROW, DONE = 0, 5, 100, 101
INTEGER, FLOAT, TEXT, BLOB = 1, 2, 3, 4
CONSTRAINT, MISMATCH, CORRUPT, NOTADB = 19, 20, 11, 26
OPEN_READWRITE_CREATE = 0x2 | 0x4
TRANSIENT = c_void_p(-1)  # SQLite copies bound values at once
STATEMENTS_KEPT = 256  # prepared statements cached (combined writes vary in their row count)
BEGIN_WAIT = 30.0  # seconds a BEGIN retries while another process holds the write lock

_SIGNATURES: dict[str, tuple[Any, list]] = {
    "sqlite3_open_v2": (c_int, [c_char_p, POINTER(c_void_p), c_int, c_char_p]),
    "sqlite3_close_v2": (c_int, [c_void_p]),
    "sqlite3_extended_result_codes": (c_int, [c_void_p, c_int]),
    "sqlite3_prepare_v2": (c_int, [c_void_p, c_char_p, c_int, POINTER(c_void_p), c_void_p]),
    "sqlite3_step": (c_int, [c_void_p]),
    "sqlite3_reset": (c_int, [c_void_p]),
    "sqlite3_clear_bindings": (c_int, [c_void_p]),
    "sqlite3_finalize": (c_int, [c_void_p]),
    "sqlite3_bind_int64": (c_int, [c_void_p, c_int, c_int64]),
    "sqlite3_bind_double": (c_int, [c_void_p, c_int, c_double]),
    "sqlite3_bind_text": (c_int, [c_void_p, c_int, c_char_p, c_int, c_void_p]),
    "sqlite3_bind_blob": (c_int, [c_void_p, c_int, c_char_p, c_int, c_void_p]),
    "sqlite3_bind_null": (c_int, [c_void_p, c_int]),
    "sqlite3_column_count": (c_int, [c_void_p]),
    "sqlite3_column_type": (c_int, [c_void_p, c_int]),
    "sqlite3_column_int64": (c_int64, [c_void_p, c_int]),
    "sqlite3_column_double": (c_double, [c_void_p, c_int]),
    "sqlite3_column_blob": (c_void_p, [c_void_p, c_int]),
    "sqlite3_column_text": (c_void_p, [c_void_p, c_int]),
    "sqlite3_column_bytes": (c_int, [c_void_p, c_int]),
    "sqlite3_stmt_readonly": (c_int, [c_void_p]),
    "sqlite3_changes": (c_int, [c_void_p]),
    "sqlite3_last_insert_rowid": (c_int64, [c_void_p]),
    "sqlite3_get_autocommit": (c_int, [c_void_p]),
    "sqlite3_errmsg": (c_char_p, [c_void_p]),
}


def _library():
    """The stdlib module's SQLite, called without giving up the GIL; None if it cannot be had."""
    try:
        lib = ctypes.PyDLL(_sqlite3.__file__)  # its own symbols, or those of the libsqlite3 it links
        lib.sqlite3_libversion.restype = c_char_p
        if lib.sqlite3_libversion().decode() != sqlite3.sqlite_version:
            return None
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
    except (OSError, AttributeError):
        return None
    return lib


_LIB = _library()


def open_held(path: str) -> "HeldConnection | None":
    """A HeldConnection to the database file, or None where the library cannot be used this way."""
    return HeldConnection(path) if _LIB is not None else None


class Result:
    """What one statement gave: its rows (read at once), rowcount and lastrowid like sqlite3's cursor."""

    __slots__ = ("rows", "rowcount", "lastrowid")

    def __init__(self, rows: list[tuple], rowcount: int, lastrowid: int):
        self.rows, self.rowcount, self.lastrowid = rows, rowcount, lastrowid

    def fetchone(self) -> tuple | None:
        return self.rows.pop(0) if self.rows else None

    def fetchall(self) -> list[tuple]:
        rows, self.rows = self.rows, []
        return rows


class HeldConnection:
    """One connection for one thread at a time (the writer thread; close() once it is idle)."""

    def __init__(self, path: str):
        db = c_void_p()
        rc = _LIB.sqlite3_open_v2(str(path).encode(), byref(db), OPEN_READWRITE_CREATE, None)
        self._db = db
        if rc != OK:
            message = self._message()
            self.close()
            raise sqlite3.OperationalError(message)
        _LIB.sqlite3_extended_result_codes(db, 1)
        self._statements: OrderedDict[str, c_void_p] = OrderedDict()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=0"):
            self.execute(f"PRAGMA {pragma}")

    @property
    def in_transaction(self) -> bool:
        return not _LIB.sqlite3_get_autocommit(self._db)

    def execute(self, sql: str, params=()) -> Result:
        statement = self._prepared(sql)
        try:
            self._bind(statement, params)
            rows = self._run(statement, sql)
            readonly = _LIB.sqlite3_stmt_readonly(statement)
            return Result(rows, -1 if readonly else _LIB.sqlite3_changes(self._db),
                          _LIB.sqlite3_last_insert_rowid(self._db))
        finally:
            _LIB.sqlite3_reset(statement)
            _LIB.sqlite3_clear_bindings(statement)

    def executemany(self, sql: str, seq_of_params) -> Result:
        changed = 0
        for params in seq_of_params:
            changed += self.execute(sql, params).rowcount
        return Result([], changed, _LIB.sqlite3_last_insert_rowid(self._db))

    def close(self) -> None:
        for statement in getattr(self, "_statements", {}).values():
            _LIB.sqlite3_finalize(statement)
        if self._db:
            _LIB.sqlite3_close_v2(self._db)
            self._db = c_void_p()

    # ---- statements ----------------------------------------------------------------------------
    def _prepared(self, sql: str) -> c_void_p:
        statement = self._statements.get(sql)
        if statement is not None:
            self._statements.move_to_end(sql)
            return statement
        statement = c_void_p()
        rc = _LIB.sqlite3_prepare_v2(self._db, sql.encode(), -1, byref(statement), None)
        if rc != OK:
            raise _error(self._message(), rc)
        self._statements[sql] = statement
        if len(self._statements) > STATEMENTS_KEPT:
            _LIB.sqlite3_finalize(self._statements.popitem(last=False)[1])
        return statement

    @staticmethod
    def _bind(statement: c_void_p, params) -> None:
        for n, value in enumerate(params, 1):
            if value is None:
                rc = _LIB.sqlite3_bind_null(statement, n)
            elif isinstance(value, int):
                rc = _LIB.sqlite3_bind_int64(statement, n, value)
            elif isinstance(value, str):
                data = value.encode()
                rc = _LIB.sqlite3_bind_text(statement, n, data, len(data), TRANSIENT)
            elif isinstance(value, float):
                rc = _LIB.sqlite3_bind_double(statement, n, value)
            elif isinstance(value, (bytes, bytearray, memoryview)):
                data = bytes(value)
                rc = _LIB.sqlite3_bind_blob(statement, n, data, len(data), TRANSIENT)
            else:
                raise sqlite3.ProgrammingError(f"parameter {n} of type {type(value).__name__} is not supported")
            if rc != OK:
                raise sqlite3.ProgrammingError(f"parameter {n} could not be bound ({rc})")

    def _run(self, statement: c_void_p, sql: str) -> list[tuple]:
        rows = []
        waited = 0.0
        while True:
            rc = _LIB.sqlite3_step(statement)
            if rc == ROW:
                rows.append(self._row(statement))
            elif rc == DONE:
                return rows
            elif rc & 0xFF == BUSY and sql.startswith("BEGIN") and waited < BEGIN_WAIT:
                _LIB.sqlite3_reset(statement)  # another process writes: wait without the GIL, try again
                pause = min(0.05, 0.001 + waited / 10)
                time.sleep(pause)
                waited += pause
            else:
                message = self._message()
                raise _error(message, rc)

    @staticmethod
    def _row(statement: c_void_p) -> tuple:
        values = []
        for n in range(_LIB.sqlite3_column_count(statement)):
            kind = _LIB.sqlite3_column_type(statement, n)
            if kind == INTEGER:
                values.append(_LIB.sqlite3_column_int64(statement, n))
            elif kind == TEXT:
                size = _LIB.sqlite3_column_bytes(statement, n)
                values.append(ctypes.string_at(_LIB.sqlite3_column_text(statement, n), size).decode())
            elif kind == FLOAT:
                values.append(_LIB.sqlite3_column_double(statement, n))
            elif kind == BLOB:
                size = _LIB.sqlite3_column_bytes(statement, n)
                values.append(ctypes.string_at(_LIB.sqlite3_column_blob(statement, n), size) if size else b"")
            else:
                values.append(None)
        return tuple(values)

    def _message(self) -> str:
        text = _LIB.sqlite3_errmsg(self._db) if self._db else None
        return text.decode(errors="replace") if text else "unknown SQLite error"


def _error(message: str, rc: int) -> sqlite3.Error:
    """SQLite's result code as the stdlib's exception class."""
    primary = rc & 0xFF
    if primary in (CONSTRAINT, MISMATCH):
        return sqlite3.IntegrityError(message)
    if primary in (CORRUPT, NOTADB):
        return sqlite3.DatabaseError(message)
    return sqlite3.OperationalError(message)
