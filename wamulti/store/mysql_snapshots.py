"""Session snapshots written to MySQL/MariaDB (mixed into MySQLStore): blobs as literals, packets in bounds.

A snapshot already stored is updated and a new one inserted (an upsert would name the blob twice or
need VALUES(), which MySQL 8.0.20 deprecates): the writes lock the clients' rows (FOR UPDATE) first,
so they know which is which. A batch's updates go in one statement per packet, as its inserts do.
"""

from __future__ import annotations

from collections.abc import Sequence

import pymysql

from .client_rows import utcnow
from .mysql_codes import ServerCode
from .store_api import SnapshotWrite, StoreError

PACKET_OVERHEAD = 1024  # the statement around a blob
# two clients' first snapshots can deadlock on the gap both locked; InnoDB undoes one, which runs again
DEADLOCK_TRIES = 3
_INSERT_SNAPSHOTS = "INSERT INTO session_snapshots (client_id, data, sha256, version, generation, updated_at) VALUES "
# stored snapshots are updated in one statement per packet, each column's new value picked by client id
_UPDATE_SNAPSHOTS = "UPDATE session_snapshots SET data = CASE client_id "


def _binary_literal(data: bytes) -> bytes:
    """`_binary'...'` with MySQL's string escapes, about 1:1 in size.

    PyMySQL sends bytes parameters as hex (X'...'), which doubles the packet: a 32 MiB snapshot
    would need max_allowed_packet > 64 MiB. The escapes are the ones PyMySQL uses for strings.
    """
    for raw, escaped in ((b"\\", b"\\\\"), (b"\0", b"\\0"), (b"'", b"\\'"), (b'"', b'\\"'),
                         (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\x1a", b"\\Z")):
        data = data.replace(raw, escaped)
    return b"_binary'" + data + b"'"


def _rounds(writes: list[SnapshotWrite]) -> list[list[SnapshotWrite]]:
    """The writes in rounds of one write per client, a client's later writes in later rounds."""
    rounds: list[list[SnapshotWrite]] = []
    next_round: dict[str, int] = {}
    for w in writes:
        n = next_round.get(w.client_id, 0)
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(w)
        next_round[w.client_id] = n + 1
    return rounds


class MySQLSnapshotWrites:
    """save_snapshot / save_snapshots over MySQLStore's `_tx()` and the server's `max_packet`."""

    max_packet: int

    def save_snapshot(self, client_id: str, data: bytes, sha256: str) -> int:
        return self._again_after_deadlock(self._save_snapshot, client_id, data, sha256)

    def save_snapshots(self, writes: Sequence[SnapshotWrite]) -> list[bool]:
        return self._again_after_deadlock(self._save_snapshots, writes)

    @staticmethod
    def _again_after_deadlock(write, *args):
        for attempt in range(DEADLOCK_TRIES):
            try:
                return write(*args)
            except StoreError as exc:  # nothing of the undone transaction was stored
                if exc.db_code != ServerCode.LOCK_DEADLOCK or attempt == DEADLOCK_TRIES - 1:
                    raise

    def _save_snapshot(self, client_id: str, data: bytes, sha256: str) -> int:
        self._check_size(len(data))
        try:
            with self._tx() as cur:
                self._refuse_stale(cur, [client_id])  # CLUSTER=on: only the lease's holder writes
                cur.execute("SELECT sha256, version, generation FROM session_snapshots WHERE client_id = %s "
                            "FOR UPDATE", (client_id,))
                row = cur.fetchone()
                if row and row[0] == sha256:
                    return row[1]
                write = SnapshotWrite(client_id, data, sha256, (row[2] if row else 0) + 1)
                if row:
                    cur.execute(self._update_statement(cur, [write]))
                else:
                    self._insert_new(cur, [write])
                return (row[1] if row else 0) + 1
        except StoreError as exc:
            raise self._snapshot_error(exc, len(data), f"no client {client_id!r} to attach a snapshot to") from None

    def _save_snapshots(self, writes: Sequence[SnapshotWrite]) -> list[bool]:
        for w in writes:
            self._check_size(len(w.data))
        ids = [w.client_id for w in writes]
        try:
            with self._tx() as cur:
                if not ids:
                    return []
                self._refuse_stale(cur, ids)  # a stale one fails the batch; group commit then writes each alone
                cur.execute("SELECT client_id, generation FROM session_snapshots WHERE client_id IN "
                            f"({', '.join(['%s'] * len(ids))}) FOR UPDATE", ids)
                held = dict(cur.fetchall())
                held_before, new_ids = set(held), set()
                stored = []
                for w in writes:  # in order, so a batch never lets an older write follow a newer one
                    stored.append(held.get(w.client_id, -1) < w.generation)
                    held[w.client_id] = max(held.get(w.client_id, -1), w.generation)
                new, updates = [], []
                for w in (w for w, ok in zip(writes, stored) if ok):
                    (updates if w.client_id in held_before or w.client_id in new_ids else new).append(w)
                    new_ids.add(w.client_id)
                self._insert_new(cur, new)  # first, so a later write of the same client updates
                for one_each in _rounds(updates):
                    for chunk in self._packets(one_each):
                        cur.execute(self._update_statement(cur, chunk))
                return stored
        except StoreError as exc:
            largest = max(len(w.data) for w in writes)
            raise self._snapshot_error(exc, largest, "a snapshot's client has no row") from None

    def _insert_new(self, cur, writes: list[SnapshotWrite]) -> None:
        """Insert first snapshots; one that another writer inserted meanwhile is updated instead (under
        READ COMMITTED the FOR UPDATE of a missing row locks no gap; a failed statement undoes only itself)."""
        chunks = self._packets(writes)
        for n, chunk in enumerate(chunks):
            try:
                cur.execute(_INSERT_SNAPSHOTS.encode() + b", ".join(self._row_literal(cur, w) for w in chunk))
            except pymysql.err.IntegrityError as exc:
                if exc.args[0] != ServerCode.DUP_ENTRY:
                    raise
                break
        else:
            return
        for w in (w for chunk in chunks[n:] for w in chunk):
            if not cur.execute(self._update_statement(cur, [w])):
                cur.execute(_INSERT_SNAPSHOTS.encode() + self._row_literal(cur, w))

    def _packets(self, writes: list[SnapshotWrite]) -> list[list[SnapshotWrite]]:
        """The writes in groups whose statement fits max_allowed_packet (escaping adds a little)."""
        limit = (self.max_packet or (16 << 20)) // 2
        groups: list[list[SnapshotWrite]] = []
        size = limit
        for w in writes:
            if size + len(w.data) + PACKET_OVERHEAD > limit:
                groups.append([])
                size = 0
            groups[-1].append(w)
            size += len(w.data) + PACKET_OVERHEAD
        return groups

    @staticmethod
    def _row_literal(cur, w: SnapshotWrite) -> bytes:
        head = cur.mogrify("(%s, ", (w.client_id,))
        tail = cur.mogrify(", %s, 1, %s, %s)", (w.sha256, w.generation, utcnow()))
        return head.encode("utf-8") + _binary_literal(w.data) + tail.encode("utf-8")

    @staticmethod
    def _update_statement(cur, writes: list[SnapshotWrite]) -> bytes:
        """One UPDATE of the writes' rows (one write per client)."""
        ids = [cur.mogrify("%s", (w.client_id,)) for w in writes]
        data = b" ".join(f"WHEN {i} THEN ".encode() + _binary_literal(w.data) for i, w in zip(ids, writes))
        sha = " ".join(cur.mogrify("WHEN %s THEN %s", (w.client_id, w.sha256)) for w in writes)
        gen = " ".join(cur.mogrify("WHEN %s THEN %s", (w.client_id, w.generation)) for w in writes)
        tail = (f" END, sha256 = CASE client_id {sha} END, generation = CASE client_id {gen} END, version = "
                f"version + 1, updated_at = {cur.mogrify('%s', (utcnow(),))} WHERE client_id IN ({', '.join(ids)})")
        return _UPDATE_SNAPSHOTS.encode() + data + tail.encode()

    def _check_size(self, size: int) -> None:
        if self.max_packet and size + PACKET_OVERHEAD > self.max_packet:
            raise self._too_large(size)

    def _snapshot_error(self, exc: StoreError, largest: int, no_row: str) -> StoreError:
        code = exc.db_code
        if code == ServerCode.NET_PACKET_TOO_LARGE or (code == ServerCode.SERVER_GONE and largest > (1 << 20)):
            return self._too_large(largest)
        if code == ServerCode.NO_REFERENCED_ROW:
            return StoreError(no_row)
        return exc

    def _too_large(self, size: int) -> StoreError:
        return StoreError(f"snapshot of {size} bytes exceeds the database's max_allowed_packet "
                          f"({self.max_packet} bytes); raise max_allowed_packet")
