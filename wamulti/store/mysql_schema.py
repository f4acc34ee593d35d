"""The MySQL/MariaDB store's schema: its migrations, and applying them once across servers.

Every statement must be one that MySQL 8/9 and MariaDB both accept (tests/test_store.py checks the
known MariaDB-only forms).
"""

from __future__ import annotations

import logging

import pymysql

from .event_sql import MYSQL_OUTBOX_TABLES
from .key_rows import MYSQL_KEY_TABLES
from .lease_rows import MYSQL_LEASE_TABLES
from .media_source_rows import MYSQL_MEDIA_SOURCES
from .media_rows import MYSQL_MEDIA_TABLE
from .mysql_codes import ALREADY_APPLIED
from .mysql_sends import OUTBOUND_OWNER, OUTBOUND_PAYLOAD, OUTBOUND_TABLE

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE IF NOT EXISTS clients (
            client_id  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
            phone      VARCHAR(32) NULL,
            jid        VARCHAR(128) NULL,
            state      VARCHAR(16) NOT NULL,
            last_error VARCHAR(512) NULL,
            created_at DATETIME(6) NOT NULL,
            updated_at DATETIME(6) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
        """CREATE TABLE IF NOT EXISTS session_snapshots (
            client_id  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
            data       LONGBLOB NOT NULL,
            sha256     CHAR(64) NOT NULL,
            version    INT NOT NULL,
            updated_at DATETIME(6) NOT NULL,
            CONSTRAINT fk_snapshot_client FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    ]),
    (2, MYSQL_OUTBOX_TABLES),  # events, delivery lanes, webhooks
    (3, OUTBOUND_TABLE),  # the outbound send queue
    (4, [  # the snapshot's generation, compared with the local file's sidecar
        "ALTER TABLE session_snapshots ADD COLUMN generation BIGINT NOT NULL DEFAULT 0",
        "UPDATE session_snapshots SET generation = version",
    ]),
    (5, OUTBOUND_OWNER),  # who took a send (its instance), and old rows found by state
    (6, MYSQL_KEY_TABLES),  # scoped API keys and the clients each reaches
    (7, MYSQL_MEDIA_TABLE),  # media records (their bytes are blobs: wamulti/media)
    (8, OUTBOUND_PAYLOAD),  # a send's media, location, contact or reply; the media it keeps alive
    (9, MYSQL_MEDIA_SOURCES),  # incoming media's origins; the media an event carries
    (16, MYSQL_LEASE_TABLES),  # CLUSTER=on: client leases (owner, fencing token) and the instances
]


def _code(exc: Exception) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def _apply(cur, statement: str) -> None:
    """Run one migration statement. DDL commits at once, so a run cut off mid-migration may have
    added a column or index already; MySQL has no `ADD COLUMN IF NOT EXISTS` (MariaDB only), so
    finding it there counts as done."""
    try:
        cur.execute(statement)
    except pymysql.err.MySQLError as exc:
        if _code(exc) not in ALREADY_APPLIED:
            raise
        log.info("migration step found done already (%s): %s", _code(exc), statement.split("(")[0].strip())


def migrate(transaction) -> None:
    """Apply the migrations not yet recorded in schema_version, each in a `transaction()` of its own."""
    for version, statements in MIGRATIONS:
        with transaction() as cur:
            # GET_LOCK keeps two servers starting at once from applying a migration twice
            cur.execute("SELECT GET_LOCK('wamulti_migrations', 30)")
            try:
                cur.execute("SELECT COUNT(*) FROM schema_version WHERE version = %s", (version,))
                if cur.fetchone()[0] == 0:
                    for statement in statements:
                        _apply(cur, statement)
                    cur.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
                    log.info("database schema migrated to version %d", version)
            finally:
                cur.execute("SELECT RELEASE_LOCK('wamulti_migrations')")

