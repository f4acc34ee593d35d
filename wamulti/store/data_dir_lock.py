"""One server process per DATA_DIR: an fcntl lock on DATA_DIR/wamulti.lock, taken at start.

Two processes on one DATA_DIR would each connect the same accounts from the same session files
(WhatsApp then closes one for good with `stream_replaced`) and share one instance id; with the
embedded SQLite store they would also share its file. Several instances share clients only on
MySQL with CLUSTER=on, each with its own DATA_DIR. The lock is a POSIX record lock: the kernel
drops it when the process dies (even by SIGKILL), so a crash never leaves DATA_DIR locked. It is
the server's (server.py), not the store's: tools and tests may read a store beside a running server.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from .store_api import StoreError

LOCK_NAME = "wamulti.lock"

_held: dict[Path, int] = {}  # lock file -> its descriptor, open for the process's life (closing it unlocks)
_held_lock = threading.Lock()


class DataDirInUse(StoreError):
    """Another process holds DATA_DIR."""


def lock_data_dir(data_dir: Path) -> None:
    """Hold DATA_DIR for this process until it ends; raise DataDirInUse if another process does."""
    path = (Path(data_dir) / LOCK_NAME).resolve()
    with _held_lock:
        if path in _held:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(f"DATA_DIR {path.parent} is in use by another wamulti process (pid {holder}); "
                               "one process per DATA_DIR: stop that one, or give this one its own DATA_DIR "
                               "(instances share clients with MySQL and CLUSTER=on)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held[path] = fd
