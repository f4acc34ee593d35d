"""Snapshot reader process: consistent copies of session files (standard library only).

Two modes:
- `python -I -S snapshot_child.py PATH`: write one copy of PATH to stdout and exit (a process per
  snapshot; what SNAPSHOT_HELPERS=0 uses).
- `python -I -S snapshot_child.py --serve`: a long-lived helper (wamulti/sessions/snapshot_helpers.py).
  Each request is one JSON line on stdin, {"path": ..., "known": sha256 or null}; each answer is a
  JSON line, {"sha256": ..., "size": n} followed by n bytes of zlib-compressed contents (n is 0
  when the contents still have the known sha256), or {"error": ...}. It exits at EOF on stdin,
  so it never outlives the server.

A SQLite file is copied with the online backup API through a read-only connection, so a writer in
another process is respected; any other file (the simulator's) is read as it is.
"""

import hashlib
import json
import sqlite3
import sys
import zlib
from pathlib import Path

BUSY_TIMEOUT = 10  # seconds a read waits for a writer's lock; the server gives up on a request at 30


def read_copy(path: str) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(16)
        if head != b"SQLite format 3\x00":
            return head + fh.read()
    source = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
    try:
        copy = sqlite3.connect(":memory:")
        source.backup(copy)
        return copy.serialize()
    finally:
        source.close()


def answer(request: dict) -> tuple[dict, bytes]:
    try:
        raw = read_copy(request["path"])
    except Exception as exc:  # reported to the server, which logs it and retries later
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}, b""
    sha = hashlib.sha256(raw).hexdigest()
    data = b"" if sha == request.get("known") else zlib.compress(raw, 6)
    return {"sha256": sha, "size": len(data)}, data


def serve() -> int:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        header, data = answer(json.loads(line))
        out.write(json.dumps(header).encode() + b"\n" + data)
        out.flush()
    return 0


def main(path: str) -> int:
    sys.stdout.buffer.write(read_copy(path))
    return 0


if __name__ == "__main__":
    sys.exit(serve() if sys.argv[1] == "--serve" else main(sys.argv[1]))
