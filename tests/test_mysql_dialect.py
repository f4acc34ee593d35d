"""The MySQL store stays within what MySQL 8 accepts: every statement it sends, checked for MariaDB-only SQL.

The tests' server is MariaDB; what remains unproven on MySQL itself is said in docs/architecture.md
("MySQL and MariaDB"), with how to run these tests against a MySQL server (WAMULTI_TEST_MYSQL).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.mysql_dialect import MYSQL8_RESERVED, mariadb_only, recording, reserved_columns
from wamulti.hearing.event_model import new_event_id
from wamulti.store import open_store
from wamulti.store.store_api import ClientRecord, SessionStore, SnapshotWrite
from wamulti.store.media_rows import MediaRow
from wamulti.store.key_rows import ApiKeyRow
from wamulti.store.media_source_rows import MediaSourceRow
from wamulti.store.send_rows import QUEUED, SENDING, SENT, OutboundRow, StateChange
from wamulti.store.event_rows import DELIVERED, PENDING, AttemptResult, EventRow, WebhookRow
from wamulti.store.client_rows import utcnow

MARIADB_SQL = [
    "INSERT INTO t (a) VALUES (1) RETURNING a",
    "DELETE FROM t WHERE a = 1 RETURNING a",
    "ALTER TABLE t ADD COLUMN IF NOT EXISTS b INT",
    "ALTER TABLE t DROP INDEX IF EXISTS ix_b",
    "CREATE INDEX IF NOT EXISTS ix_b ON t (b)",
    "CREATE OR REPLACE TABLE t (a INT)",
    "INSERT INTO t (a, b) VALUES (1, 2) ON DUPLICATE KEY UPDATE b = VALUES(b)",
    "SELECT @n := @n + 1 FROM t",
    "CREATE SEQUENCE s",
    "SELECT NEXTVAL(s)",
    "DELETE FROM t WHERE a IN (SELECT a FROM u ORDER BY a LIMIT 10)",
    "SELECT JSON_DETAILED(j) FROM t",
    "SELECT * FROM t FETCH FIRST 3 ROWS ONLY",
]
MYSQL8_SQL = [
    "INSERT INTO t (a, b) VALUES (1, 2) ON DUPLICATE KEY UPDATE b = 2",
    "INSERT INTO t (a, b) VALUES (1, 'VALUES(b) RETURNING') ON DUPLICATE KEY UPDATE b = 'x := y'",
    "SET @v := 1",
    "DELETE FROM t WHERE a < 5 ORDER BY a LIMIT 10",
    "CREATE TABLE IF NOT EXISTS t (a INT NOT NULL PRIMARY KEY)",
]


@pytest.mark.parametrize("sql", MARIADB_SQL)
def test_the_check_finds_each_mariadb_only_construct(sql):
    assert mariadb_only(sql), sql


@pytest.mark.parametrize("sql", MYSQL8_SQL)
def test_the_check_passes_what_mysql_8_accepts_and_reads_no_sql_in_string_literals(sql):
    assert mariadb_only(sql) == []


def test_the_check_finds_columns_named_with_words_mysql_8_reserved():
    assert reserved_columns("CREATE TABLE t (id INT NOT NULL, `rank` INT, rows INT)") == ["rank", "rows"]
    assert reserved_columns("CREATE TABLE t (delivery VARCHAR(16) NOT NULL, type VARCHAR(32))") == []


class Called:
    """The store with the names of its methods called through it recorded."""

    def __init__(self, store: SessionStore):
        self._store, self.names = store, set()

    def __getattr__(self, name):
        self.names.add(name)
        return getattr(self._store, name)


def event(client_id: str) -> EventRow:
    now = utcnow()
    return EventRow(new_event_id(), client_id, "message", '{"a":1}', PENDING, created_at=now, queued_at=now,
                    next_at=now)


def every_call(s: Called) -> None:
    """Each public method of the store at least once, along the paths that send different statements."""
    now, long_ago = utcnow(), utcnow() - timedelta(days=2)
    s.create_client(ClientRecord("a", state="CONNECTING"))
    s.save_client(ClientRecord("a", state="READY", phone="+491511234567"))
    s.save_clients([ClientRecord("a", state="READY"), ClientRecord("b", state="CONNECTING")])
    s.get_client("a"), s.list_clients()
    s.save_snapshot("a", b"first 'snapshot' \\ \0", "h1")
    s.save_snapshot("a", b"second", "h2")
    s.save_snapshots([SnapshotWrite("a", b"third", "h3", 5), SnapshotWrite("b", b"new", "h4", 1),
                      SnapshotWrite("b", b"newer", "h5", 2)])
    s.load_snapshot("a"), s.snapshot_meta("a"), s.all_snapshot_meta()
    first, second = event("a"), event("a")
    s.add_events([first, second]), s.add_events([first])
    s.get_event(first.event_id), s.list_events(client_ids=["a", "b"], type="message", after="", limit=5)
    s.pending_heads()
    s.claim_events("a", "tok", 30.0)
    s.record_attempts("a", "tok", [AttemptResult(first.event_id, DELIVERED, finished_at=now)], 30.0, then_claim=1)
    s.release_lane("a", "tok")
    s.requeue_event(first.event_id), s.requeue_client_events("a", None, ["message"])
    s.prune_events(new_event_id())
    s.save_webhook(WebhookRow("a", "http://127.0.0.1:9/hook", "*", "whsec_x"))
    s.save_webhook(WebhookRow("a", "http://127.0.0.1:9/other", "message", "whsec_y"))
    s.get_webhook("a"), s.all_webhooks(), s.delete_webhook("a")
    rows = [OutboundRow(f"m{n}", "a", "+491511234567", f"text {n}", idem_key=f"k{n}", idem_hash="h") for n in range(4)]
    for row in rows:
        s.enqueue_send(row, 10, long_ago)
    s.open_sends("a"), s.claim_send("m0", "me")
    s.finish_send("m0", StateChange(SENT, sent_at=now), claim="m1", owner="me")
    s.set_send_state("m1", SENT, reason=None, chat="491511234567@s.whatsapp.net")
    s.advance_sends([("m0", "server"), ("m1", "delivered")])
    s.fail_open_sends("a", SENDING, "outcome_unknown", created_before=now + timedelta(seconds=1), owner="me")
    s.load_open_sends(["a", "b"], SENDING, "outcome_unknown", "me")
    s.fail_old_sends(QUEUED, now + timedelta(seconds=1), "expired")
    s.get_send("m2"), s.media_ids_in_open_sends(["m1", "m2"]), s.prune_sends(now + timedelta(days=1))
    key = ApiKeyRow("key1", "f" * 64, "label", ("a", "b"), created_at=now)
    s.add_api_key(key), s.api_key_by_hash(key.key_hash), s.list_api_keys()
    s.touch_api_key("key1", now, now - timedelta(minutes=1)), s.delete_api_key("key1")
    s.add_events([EventRow(new_event_id(), "a", "message", "{}", PENDING, created_at=now, media_id="m1")])
    s.save_media_source(MediaSourceRow("m1", "a", "3EB0X", "c@s.whatsapp.net", "image", b"\x00ref'", now))
    s.get_media_source("m1"), s.media_ids_in_undelivered_events(["m1", "m2"]), s.delete_media_sources(["m1"])
    media = MediaRow("m" + "a" * 26, "a", "pending", created_at=long_ago)
    s.add_media(media), s.add_media(MediaRow("m" + "b" * 26, "a", "stored", "f" * 64, created_at=now,
                                             source_id=media.media_id, variant="thumb", facts="{}"))
    s.update_media(MediaRow(media.media_id, "a", "stored", "f" * 64, "image/png", 5, "x.png", None, long_ago))
    s.get_media(media.media_id), s.derived_media(media.media_id, "thumb"), s.old_media(now, 10), s.old_media(now, 10, (long_ago, media.media_id))
    s.sha256_in_use(["f" * 64, "e" * 64]), s.delete_media([media.media_id])
    s.delete_snapshot("b"), s.delete_client("b"), s.ping()


def test_every_statement_the_mysql_store_sends_is_one_mysql_8_accepts(mariadb):
    with recording() as log:
        store = Called(open_store(mariadb.settings(mariadb.new_database()), wait_seconds=10))
        try:
            every_call(store)
        finally:
            store.close()
    untouched = SessionStore.__abstractmethods__ - store.names
    assert not untouched, f"add these to every_call, so their statements are checked: {sorted(untouched)}"
    assert len(log.statements) > 60 and any(s.startswith("CREATE TABLE") for s in log.statements)
    assert log.offending() == {}
    creates = [s for s in log.statements if re.match(r"\s*CREATE TABLE", s)]
    assert {c for s in creates for c in reserved_columns(s)} == set(), f"MySQL 8 reserves: {sorted(MYSQL8_RESERVED)}"


def lease_calls(s) -> None:
    """The MySQL-only calls of CLUSTER=on (store/lease_rows.py), each path once."""
    s.create_client(ClientRecord("a", state="READY"))
    s.create_client(ClientRecord("b", state="READY"))
    s.register_instance("inst-1", "http://127.0.0.1:3000"), s.register_instance("inst-1", "http://127.0.0.1:3001")
    s.take_leases("inst-1", 15.0, 10), s.take_leases("inst-1", 15.0, 10, ["a", "b"])
    s.renew_leases("inst-1", 15.0), s.lease_rows(), s.lease_rows(["a"]), s.lease_summary(), s.instance_rows()
    s.enqueue_send(OutboundRow("q1", "a", "+491511234567", "text"), 10, utcnow() - timedelta(days=2))
    s.queued_sends_of_owner("inst-1")
    tokens = {row.client_id: row.token for row in s.lease_rows()}
    s.fence_writes(tokens.get)
    s.save_snapshot("a", b"fenced", "h1"), s.save_snapshots([SnapshotWrite("a", b"fenced 2", "h2", 9)])
    s.save_client(ClientRecord("a", state="SYNCING")), s.save_clients([ClientRecord("a", state="READY")])
    s.claim_send("q1", "inst-1"), s.finish_send("q1", StateChange(SENT, sent_at=utcnow()))
    s.release_leases("inst-1", ["a", "b"]), s.stop_instance("inst-1")


def test_the_cluster_statements_are_ones_mysql_8_accepts(mariadb):
    with recording() as log:
        store = open_store(mariadb.settings(mariadb.new_database()), wait_seconds=10)
        try:
            lease_calls(store)
        finally:
            store.close()
    assert any("client_leases" in s for s in log.statements) and any("LOCK IN SHARE MODE" in s for s in log.statements)
    assert log.offending() == {}
