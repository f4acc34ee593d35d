"""Child process: write a consistent copy of one session file to stdout.

Run as `python -I -S _snapshot_child.py PATH`; uses only the standard library. A SQLite file is
copied with the online backup API through a read-only connection, so a writer in another process
is respected; any other file is read as it is.
"""

import sqlite3
import sys
from pathlib import Path


def main(path: str) -> int:
    with open(path, "rb") as fh:
        head = fh.read(16)
        if head != b"SQLite format 3\x00":
            sys.stdout.buffer.write(head + fh.read())
            return 0
    source = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(":memory:")
        source.backup(copy)
        sys.stdout.buffer.write(copy.serialize())
    finally:
        source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
