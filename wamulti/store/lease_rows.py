"""Client leases and the instances table (MySQL/MariaDB only, mixed into MySQLStore): who owns which
client, on the database's clock, and the fence that refuses a former owner's writes.

A lease row per client: `owner` (an instance id), `token` (one more at every change of owner, never
reset: a release keeps it, the next take adds one) and `expires_at` (UTC_TIMESTAMP(6) + the lease
length, so no instance's own clock matters). A lease is free when it has no owner or has expired.

The fence: with `fence_writes(tokens)` set (CLUSTER=on), a write for a client (its row, snapshots,
a send's claim and outcome) first reads its lease row under a shared lock and goes on only if the
row's token is the one `tokens(client_id)` says this process holds (a batch of client rows drops
the refused ones, so that one stale client never fails the others' state writes). The shared lock makes a takeover (which updates the row) wait for a write already
checked, and the write that comes after a takeover finds the new token: no write of a former owner
lands after the new owner took over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .client_rows import utcnow

from .store_api import StoreError

_BIN = "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
_ASCII = "CHARACTER SET ascii COLLATE ascii_bin"

MYSQL_LEASE_TABLES = [
    f"""CREATE TABLE IF NOT EXISTS client_leases (
        client_id  VARCHAR(64) {_BIN} NOT NULL PRIMARY KEY,
        owner      VARCHAR(64) {_ASCII} NULL,
        token      BIGINT NOT NULL DEFAULT 0,
        expires_at DATETIME(6) NULL,
        KEY ix_leases_owner (owner, client_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    f"""CREATE TABLE IF NOT EXISTS instances (
        instance_id VARCHAR(64) {_ASCII} NOT NULL PRIMARY KEY,
        address     VARCHAR(255) NOT NULL,
        started_at  DATETIME(6) NOT NULL,
        seen_at     DATETIME(6) NOT NULL,
        stopped_at  DATETIME(6) NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
]

NEW_CLIENT_SECONDS = 5  # placement leaves a client this young to the instance that created it
_NOW = "UTC_TIMESTAMP(6)"
_UNTIL = f"{_NOW} + INTERVAL %s MICROSECOND"
_FREE = f"(owner IS NULL OR expires_at < {_NOW})"
_MISSING = ("SELECT c.client_id FROM clients c LEFT JOIN client_leases l ON l.client_id = c.client_id "
            "WHERE l.client_id IS NULL LIMIT 1000")  # clients with no lease row yet


class StaleLease(StoreError):
    """A write for a client whose lease this process no longer holds (another instance took it over)."""


@dataclass(frozen=True)
class LeaseRow:
    client_id: str
    owner: str | None
    token: int
    expires_at: datetime | None
    live: bool  # held (owned and not expired) by the database's clock at the read


@dataclass(frozen=True)
class InstanceRow:
    instance_id: str
    address: str
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None
    seen_seconds_ago: float  # by the database's clock


def _marks(values: Sequence) -> str:
    return ", ".join(["%s"] * len(values))


def _micros(seconds: float) -> int:
    return int(seconds * 1_000_000)


class MySQLLeases:
    """Leases and instances over MySQLStore's `_tx()` (a cursor in one transaction)."""

    _fence: Callable[[str], int | None] | None = None

    def fence_writes(self, tokens: Callable[[str], int | None] | None) -> None:
        """From now on refuse a client's writes (snapshots, send claims and outcomes) unless its lease
        token is `tokens(client_id)`; None: no fence (one instance, as before CLUSTER=on)."""
        self._fence = tokens

    def take_leases(self, owner: str, seconds: float, limit: int, client_ids: Sequence[str] = ()) -> dict[str, int]:
        """Take up to `limit` free leases (of `client_ids` if given, else of any client), each with a
        new token; return client_id -> token of those taken.

        No locking read: the candidates are read as of a snapshot, and the UPDATE takes each only if it
        is still free (an UPDATE reads the newest version), locking just those rows; a locking scan
        would lock every lease it passed (other instances' too) and a locking INSERT ... SELECT the
        clients' rows, which the state writes lock the other way round (a deadlock)."""
        if limit <= 0:
            return {}
        self._add_missing_leases()
        with self._tx() as cur:
            pick = f"SELECT client_id FROM client_leases WHERE {_FREE}"
            if client_ids:
                pick, args = pick + f" AND client_id IN ({_marks(client_ids)})", tuple(client_ids)
            else:  # a client created this moment is its creator's to take (claim_new)
                pick, args = pick + " AND client_id IN (SELECT client_id FROM clients WHERE created_at < %s)", (
                    utcnow() - timedelta(seconds=NEW_CLIENT_SECONDS),)
            cur.execute(pick + f" AND client_id IN (SELECT client_id FROM clients) ORDER BY client_id "
                        f"LIMIT {int(limit)}", args)
            ids = [r[0] for r in cur.fetchall()]
            if not ids:
                return {}
            cur.execute(f"UPDATE client_leases SET owner = %s, token = token + 1, expires_at = {_UNTIL} "
                        f"WHERE client_id IN ({_marks(ids)}) AND {_FREE}", (owner, _micros(seconds), *ids))
            cur.execute(f"SELECT client_id, token FROM client_leases WHERE owner = %s AND client_id IN "
                        f"({_marks(ids)})", (owner, *ids))
            return dict(cur.fetchall())

    def _add_missing_leases(self) -> None:
        """A lease row (token 0, free) for each client that has none yet, in a transaction of its own."""
        with self._tx() as cur:
            cur.execute(_MISSING)
            ids = [r[0] for r in cur.fetchall()]
            if ids:
                cur.execute("INSERT INTO client_leases (client_id, token) VALUES "
                            f"{', '.join(['(%s, 0)'] * len(ids))} ON DUPLICATE KEY UPDATE client_id = client_id", ids)

    def renew_leases(self, owner: str, seconds: float) -> dict[str, int]:
        """Extend every unexpired lease `owner` holds by `seconds` from now (the database's now) and
        mark the instance seen; return client_id -> token of the leases it still holds."""
        with self._tx() as cur:
            cur.execute(f"UPDATE client_leases SET expires_at = {_UNTIL} WHERE owner = %s AND expires_at >= {_NOW}",
                        (_micros(seconds), owner))
            cur.execute(f"UPDATE instances SET seen_at = {_NOW}, stopped_at = NULL WHERE instance_id = %s", (owner,))
            cur.execute(f"SELECT client_id, token FROM client_leases WHERE owner = %s AND expires_at >= {_NOW}",
                        (owner,))
            return dict(cur.fetchall())

    def release_leases(self, owner: str, client_ids: Sequence[str]) -> int:
        """Give up the leases (a hand-over or a stop); the tokens stay, the next owner's is one more."""
        if not client_ids:
            return 0
        with self._tx() as cur:
            return cur.execute(f"UPDATE client_leases SET owner = NULL, expires_at = NULL WHERE owner = %s AND "
                               f"client_id IN ({_marks(client_ids)})", (owner, *client_ids))

    def lease_rows(self, client_ids: Sequence[str] = ()) -> list[LeaseRow]:
        """The lease rows (of the clients given, else all), each with whether it is live now."""
        where, args = (f" WHERE client_id IN ({_marks(client_ids)})", tuple(client_ids)) if client_ids else ("", ())
        with self._tx() as cur:
            cur.execute(f"SELECT client_id, owner, token, expires_at, owner IS NOT NULL AND expires_at >= {_NOW} "
                        f"FROM client_leases{where} ORDER BY client_id", args)
            return [LeaseRow(r[0], r[1], int(r[2]), r[3], bool(r[4])) for r in cur.fetchall()]

    def lease_summary(self) -> tuple[int, dict[str, int]]:
        """(clients in all, live leases per owner), for placement."""
        with self._tx() as cur:
            cur.execute("SELECT COUNT(*) FROM clients")
            total = int(cur.fetchone()[0])
            cur.execute(f"SELECT owner, COUNT(*) FROM client_leases WHERE owner IS NOT NULL AND expires_at >= {_NOW} "
                        "GROUP BY owner")
            return total, {owner: int(n) for owner, n in cur.fetchall()}

    def register_instance(self, instance_id: str, address: str) -> None:
        """This instance is up at `address` (started now)."""
        with self._tx() as cur:
            cur.execute(f"INSERT INTO instances (instance_id, address, started_at, seen_at) SELECT * FROM (SELECT "
                        f"%s AS instance_id, %s AS address, {_NOW} AS started_at, {_NOW} AS seen_at) AS given "
                        "ON DUPLICATE KEY UPDATE address = given.address, started_at = given.started_at, "
                        "seen_at = given.seen_at, stopped_at = NULL", (instance_id, address))

    def stop_instance(self, instance_id: str) -> None:
        with self._tx() as cur:
            cur.execute(f"UPDATE instances SET stopped_at = {_NOW} WHERE instance_id = %s", (instance_id,))

    def instance_rows(self) -> list[InstanceRow]:
        with self._tx() as cur:
            cur.execute("SELECT instance_id, address, started_at, seen_at, stopped_at, "
                        f"TIMESTAMPDIFF(MICROSECOND, seen_at, {_NOW}) FROM instances ORDER BY instance_id")
            return [InstanceRow(r[0], r[1], r[2], r[3], r[4], int(r[5]) / 1e6) for r in cur.fetchall()]

    def _stale_of(self, cur, client_ids: Sequence[str]) -> list[str]:
        """The clients whose lease this process does not hold (the fence; none without one), their lease
        rows locked shared until the transaction ends."""
        if self._fence is None or not client_ids:
            return []
        ids = sorted(set(client_ids))  # one lock order for every writer
        cur.execute(f"SELECT client_id, token FROM client_leases WHERE client_id IN ({_marks(ids)}) "
                    "LOCK IN SHARE MODE", ids)
        stored = dict(cur.fetchall())
        return [i for i in ids if self._fence(i) is None or stored.get(i) != self._fence(i)]

    def _refuse_stale(self, cur, client_ids: Sequence[str]) -> None:
        """Raise StaleLease unless this process holds every one of the clients' leases."""
        stale = self._stale_of(cur, client_ids)
        if stale:
            raise StaleLease(f"client {stale[0]!r}: its lease is held by another instance now; write refused")

    def _refuse_stale_send(self, cur, message_id: str) -> None:
        """The fence for a queue row's claim or outcome: its client's lease."""
        if self._fence is None:
            return
        cur.execute("SELECT client_id FROM outbound WHERE message_id = %s", (message_id,))
        row = cur.fetchone()
        if row is not None:
            self._refuse_stale(cur, [row[0]])
