"""The store suite: every test runs on the real MariaDB server and on the embedded SQLite store."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import wait_until
from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord, DuplicateClient, SnapshotWrite, StoreError, StoreUnavailable
from wamulti.store.mysql_schema import MIGRATIONS as MYSQL_MIGRATIONS
from wamulti.store.mysql_store import ServerCode


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_created_clients_read_back_and_list_sorted_by_case_sensitive_id(store):
    created = store.create_client(ClientRecord("beta", "CONNECTING", phone="4915123456789"))
    assert created.created_at is not None and created.updated_at is not None
    store.create_client(ClientRecord("Alpha", "PAIRING"))
    store.create_client(ClientRecord("alpha", "PAIRING"))  # ids are case-sensitive
    got = store.get_client("beta")
    assert (got.client_id, got.state, got.phone, got.jid, got.last_error) == \
        ("beta", "CONNECTING", "4915123456789", None, None)
    assert [r.client_id for r in store.list_clients()] == ["Alpha", "alpha", "beta"]
    assert store.get_client("nobody") is None


def test_duplicate_create_is_refused_and_changes_nothing(store):
    store.create_client(ClientRecord("dup", "PAIRING", phone="1111111"))
    with pytest.raises(DuplicateClient):
        store.create_client(ClientRecord("dup", "READY", phone="2222222"))
    assert store.get_client("dup").phone == "1111111"


def test_save_updates_state_and_keeps_created_at(store):
    first = store.create_client(ClientRecord("c", "CONNECTING"))
    time.sleep(0.002)
    saved = store.save_client(ClientRecord("c", "READY", jid="4915@s.whatsapp.net", last_error=None))
    assert saved.state == "READY" and saved.jid == "4915@s.whatsapp.net"
    assert saved.created_at == first.created_at and saved.updated_at > first.updated_at


def test_aware_times_are_stored_and_read_back_as_naive_utc(store):
    plus_two = timezone(timedelta(hours=2))
    given = ClientRecord("tz", "READY", created_at=datetime(2024, 5, 1, 12, 0, 0, 123456, plus_two),
                         updated_at=datetime(2024, 5, 1, 13, 30, tzinfo=timezone.utc))
    created = store.create_client(given)
    expected = (datetime(2024, 5, 1, 10, 0, 0, 123456), datetime(2024, 5, 1, 13, 30))
    assert (created.created_at, created.updated_at) == expected
    got = store.get_client("tz")
    assert (got.created_at, got.updated_at) == expected and got.created_at.tzinfo is None


def test_unicode_text_and_digits_read_back_unchanged(store):
    text = "stream_replaced: Grüße 👋🏽 שלום مرحبا e\u0301 \U0001F9D1\u200D\U0001F4BB"
    store.create_client(ClientRecord("uni", "CLOSED", phone="٤٥٦", last_error=text))
    row = store.get_client("uni")
    assert row.last_error == text and row.phone == "٤٥٦"


def test_32_mib_snapshot_round_trip_and_unchanged_not_rewritten(store):
    store.create_client(ClientRecord("big", "READY"))
    blob = os.urandom(32 << 20)
    assert store.save_snapshot("big", blob, sha(blob)) == 1
    snap = store.load_snapshot("big")
    assert snap.data == blob and snap.sha256 == sha(blob) and snap.version == 1
    assert store.save_snapshot("big", blob, sha(blob)) == 1, "an unchanged snapshot must not be rewritten"
    assert store.save_snapshot("big", b"new", sha(b"new")) == 2
    assert store.load_snapshot("big").data == b"new"


def test_delete_client_removes_row_and_snapshot_and_reports_whether_it_existed(store):
    store.create_client(ClientRecord("gone", "READY"))
    store.save_snapshot("gone", b"keys", sha(b"keys"))
    assert store.delete_client("gone") is True
    assert store.get_client("gone") is None and store.load_snapshot("gone") is None
    assert store.delete_client("gone") is False


def test_delete_snapshot_keeps_the_row(store):
    store.create_client(ClientRecord("lo", "CLOSED", last_error="logged_out"))
    store.save_snapshot("lo", b"keys", sha(b"keys"))
    store.delete_snapshot("lo")
    assert store.load_snapshot("lo") is None and store.get_client("lo") is not None


def test_all_snapshot_meta_reads_every_stored_snapshot_at_once_as_each_reads_alone(store):
    for client_id in ("a", "B", "none"):
        store.create_client(ClientRecord(client_id, "READY", jid=f"{client_id}@s.whatsapp.net"))
    store.save_snapshot("a", b"keys a", sha(b"keys a"))
    store.save_snapshot("B", b"keys B", sha(b"keys B"))
    store.save_snapshots([SnapshotWrite("B", b"keys B2", sha(b"keys B2"), 7)])
    every = store.all_snapshot_meta()
    assert set(every) == {"a", "B"}, "a client without a snapshot has no entry"
    assert every == {"a": store.snapshot_meta("a"), "B": store.snapshot_meta("B")}
    assert (every["B"].sha256, every["B"].generation) == (sha(b"keys B2"), 7)
    assert every["a"].updated_at is not None and every["a"].updated_at.tzinfo is None


def test_a_batch_of_snapshots_stores_each_clients_writes_in_order_new_and_stored_alike(store):
    for client_id in ("old", "other", "new"):
        store.create_client(ClientRecord(client_id, "READY"))
    store.save_snapshot("old", b"old 1", sha(b"old 1"))
    store.save_snapshot("other", b"other 1", sha(b"other 1"))
    stored = store.save_snapshots([
        SnapshotWrite("old", b"old 2 'quoted' \\ \0", sha(b"old 2"), 2),
        SnapshotWrite("new", b"new 1", sha(b"new 1"), 1),
        SnapshotWrite("old", b"old 3", sha(b"old 3"), 3), SnapshotWrite("other", b"stale", sha(b"stale"), 1),
        SnapshotWrite("new", b"new 2", sha(b"new 2"), 2), SnapshotWrite("other", b"other 2", sha(b"other 2"), 4)])
    assert stored == [True, True, True, False, True, True]
    loaded = {c: store.load_snapshot(c) for c in ("old", "other", "new")}
    assert {c: (s.data, s.sha256, s.generation) for c, s in loaded.items()} == {
        "old": (b"old 3", sha(b"old 3"), 3), "other": (b"other 2", sha(b"other 2"), 4),
        "new": (b"new 2", sha(b"new 2"), 2)}
    assert {c: s.version for c, s in loaded.items()} == {"old": 3, "other": 2, "new": 2}, "one per save"


def test_snapshot_without_its_client_is_refused_and_not_stored(store):
    with pytest.raises(StoreError, match=r"^no client 'orphan' to attach a snapshot to$"):
        store.save_snapshot("orphan", b"x", sha(b"x"))
    assert store.load_snapshot("orphan") is None


def test_concurrent_writers_all_succeed_and_each_last_write_wins(store):
    errors = []

    def writer(n):
        try:
            store.create_client(ClientRecord(f"w{n}", "CONNECTING"))
            for i in range(50):
                store.save_client(ClientRecord(f"w{n}", "READY" if i % 2 else "SYNCING", last_error=f"step {i}"))
            store.save_snapshot(f"w{n}", f"keys {n}".encode(), sha(f"keys {n}".encode()))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    rows = store.list_clients()
    assert len(rows) == 16 and all(r.state == "READY" and r.last_error == "step 49" for r in rows)
    assert all(store.load_snapshot(f"w{n}").data == f"keys {n}".encode() for n in range(16))


def test_ping_answers_on_a_fresh_store(store):
    store.ping()


# ---- MariaDB-only behaviour --------------------------------------------------------------------
def test_reopening_keeps_rows_applies_each_migration_once_on_innodb_utf8mb4(mariadb):
    settings = mariadb.settings(mariadb.new_database())
    a = open_store(settings)
    a.create_client(ClientRecord("kept", "READY"))
    b = open_store(settings)
    assert [r.client_id for r in b.list_clients()] == ["kept"]
    con = mariadb.root()
    with con.cursor() as cur:
        cur.execute(f"SELECT version FROM `{settings.db_name}`.schema_version ORDER BY version")
        assert cur.fetchall() == tuple((version,) for version, _ in MYSQL_MIGRATIONS)
        cur.execute("SELECT engine, table_collation FROM information_schema.tables WHERE table_schema=%s",
                    (settings.db_name,))
        assert all(engine == "InnoDB" and collation.startswith("utf8mb4") for engine, collation in cur.fetchall())
    con.close()
    a.close()
    b.close()


def test_a_migration_cut_off_after_its_ddl_runs_again_without_mariadb_only_syntax(mariadb):
    # DDL commits at once: a run stopped between ALTER TABLE and the schema_version row leaves the
    # column in place. The next start must finish the migration with statements MySQL 8 accepts too
    # (it has no ADD COLUMN IF NOT EXISTS / CREATE INDEX IF NOT EXISTS).
    settings = mariadb.settings(mariadb.new_database())
    open_store(settings).close()
    con = mariadb.root()
    with con.cursor() as cur:
        cur.execute(f"DELETE FROM `{settings.db_name}`.schema_version WHERE version IN (4, 5)")
    again = open_store(settings)
    again.create_client(ClientRecord("after", "READY"))
    again.save_snapshot("after", b"keys", sha(b"keys"))
    assert again.load_snapshot("after").generation == 1
    with con.cursor() as cur:
        cur.execute(f"SELECT version FROM `{settings.db_name}`.schema_version WHERE version IN (4, 5)")
        assert sorted(v for (v,) in cur.fetchall()) == [4, 5]
    con.close()
    again.close()


def test_no_migration_uses_mariadb_only_syntax():
    statements = [s.upper() for _, group in MYSQL_MIGRATIONS for s in group]
    mariadb_only = [s for s in statements if re.search(r"ADD COLUMN IF NOT EXISTS|INDEX IF NOT EXISTS|\bRETURNING\b", s)]
    assert mariadb_only == []


def test_small_max_allowed_packet_is_reported_plainly(mariadb):
    con = mariadb.root()
    with con.cursor() as cur:
        cur.execute("SET GLOBAL max_allowed_packet = 1048576")
    try:
        store = open_store(mariadb.settings(mariadb.new_database()))
        store.create_client(ClientRecord("p", "READY"))
        blob = os.urandom(2 << 20)
        with pytest.raises(StoreError, match=r"exceeds the database's max_allowed_packet \(1048576 bytes\)"):
            store.save_snapshot("p", blob, sha(blob))
        assert store.load_snapshot("p") is None
        store.close()
    finally:
        with con.cursor() as cur:
            cur.execute("SET GLOBAL max_allowed_packet = 67108864")
        con.close()


def test_wrong_password_is_refused_at_once_with_the_server_error_number(mariadb):
    settings = mariadb.settings(mariadb.new_database(), db_password="not-the-password")
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"login refused \(check DB_USER/DB_PASSWORD\) \(1045\)$") as refused:
        open_store(settings, wait_seconds=10)
    assert time.monotonic() - started < 5, "a refused login is not retried"
    assert refused.type is StoreError and refused.value.db_code == ServerCode.ACCESS_DENIED
    assert "not-the-password" not in str(refused.value)


def test_outage_gives_typed_errors_then_recovers(mariadb):
    store = open_store(mariadb.settings(mariadb.new_database()))
    store.create_client(ClientRecord("o", "READY"))
    mariadb.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.save_client(ClientRecord("o", "CONNECTING", last_error="during outage"))
        with pytest.raises(StoreUnavailable):
            store.ping()
        with pytest.raises(StoreUnavailable):
            store.save_snapshot("o", b"keys", sha(b"keys"))
        assert time.monotonic() - started < 20
    finally:
        mariadb.start()
    store.ping()
    row = store.get_client("o")
    assert row.state == "READY" and row.last_error is None, "nothing may be half-written"
    store.save_client(ClientRecord("o", "SYNCING"))
    assert store.get_client("o").state == "SYNCING"
    store.close()


def test_open_store_retries_unreachable_database_then_gives_up_without_logging_password(caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings = Settings(api_key="t" * 16, db_host="127.0.0.1", db_port=port, db_user="u", db_password="secret-pw",
                        db_name="x")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(StoreUnavailable, match="gave up after"):
        open_store(settings, wait_seconds=2)
    assert 1.5 < time.monotonic() - started < 8
    tries = [r for r in caplog.records if "not reachable" in r.getMessage()]
    assert len(tries) >= 2 and all("secret-pw" not in r.getMessage() for r in caplog.records)


def store_connection_ids(root, database: str) -> list[int]:
    """The server's ids of the store's connections, as the root account sees them."""
    with root.cursor() as admin:
        admin.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s ORDER BY ID", (database,))
        return [row[0] for row in admin.fetchall()]


def test_a_connection_lost_mid_transaction_writes_nothing_of_it(mariadb):
    """delete_client is several DELETEs in one transaction: killed between two of them, none is kept."""
    database = mariadb.new_database()
    store = open_store(mariadb.settings(database, db_pool_size=1))
    store.create_client(ClientRecord("one", "READY"))
    store.save_snapshot("one", b"keys", sha(b"keys"))
    root, holder = mariadb.root(), mariadb.root()
    with holder.cursor() as cur:  # holds the client's row: the delete's last statement waits for it
        cur.execute("BEGIN")
        cur.execute(f"SELECT client_id FROM `{database}`.clients WHERE client_id = 'one' FOR UPDATE")
    outcome = {}

    def delete():
        try:
            outcome["deleted"] = store.delete_client("one")
        except StoreError as exc:
            outcome["error"] = exc

    deleting = threading.Thread(target=delete, name="delete-one")
    deleting.start()
    waiting = []

    def waits_for_the_row() -> bool:
        with root.cursor() as admin:
            admin.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s "
                          "AND INFO LIKE 'DELETE FROM clients%%'", (database,))
            waiting[:] = [row[0] for row in admin.fetchall()]
        return bool(waiting)

    wait_until(waits_for_the_row, 60)  # the snapshot is deleted; the client's row is what it waits for
    with root.cursor() as admin:
        admin.execute(f"KILL {waiting[0]}")
    deleting.join(60)
    holder.rollback()
    assert isinstance(outcome.get("error"), StoreUnavailable), outcome
    assert [c.client_id for c in store.list_clients()] == ["one"], "the client is still there"
    assert store.load_snapshot("one").data == b"keys", "and so is its snapshot, deleted earlier in the transaction"
    assert store.delete_client("one")  # the pool has a working connection again
    assert store.list_clients() == []
    holder.close()
    root.close()
    store.close()


def test_transactions_begin_without_a_begin_statement(mariadb):
    store = open_store(mariadb.settings(mariadb.new_database(), db_pool_size=1))
    for n in range(3):
        store.create_client(ClientRecord(f"quiet{n}", "READY"))
    with store._tx() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Com_begin'")
        assert int(cur.fetchone()[1]) == 0, "autocommit is off: the first statement opens each transaction"
    assert len(store.list_clients()) == 3
    store.close()


def test_a_connection_killed_while_resting_is_reopened_before_its_next_use(mariadb):
    from wamulti.store import mysql_store

    database = mariadb.new_database()
    store = open_store(mariadb.settings(database, db_pool_size=1))
    root = mariadb.root()
    store.ping()
    [first] = store_connection_ids(root, database)
    with root.cursor() as admin:
        admin.execute(f"KILL {first}")
    time.sleep(mysql_store.IDLE_PING + 0.1)  # it rested: the borrow checks it and opens a new one
    store.create_client(ClientRecord("after-rest", "READY"))
    assert first not in store_connection_ids(root, database)
    assert [c.client_id for c in store.list_clients()] == ["after-rest"]
    root.close()
    store.close()


def test_a_busy_connection_is_not_pinged_on_every_borrow(mariadb, monkeypatch):
    import pymysql

    store = open_store(mariadb.settings(mariadb.new_database(), db_pool_size=1))
    store.ping()
    pings = []
    real = pymysql.connections.Connection.ping
    monkeypatch.setattr(pymysql.connections.Connection, "ping", lambda con, *a: pings.append(1) or real(con, *a))
    for n in range(20):
        store.create_client(ClientRecord(f"busy{n}", "READY"))
    assert len(store.list_clients()) == 20
    assert len(pings) <= 1, "a connection in steady use goes out without a round trip of its own"
    store.close()


def test_a_deadlocked_snapshot_write_runs_again_and_other_errors_at_once():
    from wamulti.store.mysql_store import MySQLStore

    calls = []

    def write(error_code):
        calls.append(error_code)
        if len(calls) == 1:
            raise StoreError("undone", db_code=error_code)
        return "stored"

    assert MySQLStore._again_after_deadlock(write, ServerCode.LOCK_DEADLOCK) == "stored" and len(calls) == 2
    calls.clear()
    with pytest.raises(StoreError):
        MySQLStore._again_after_deadlock(write, ServerCode.DUP_ENTRY)
    assert len(calls) == 1
