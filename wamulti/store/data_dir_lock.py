"""One process per DATA_DIR for the embedded SQLite store: an fcntl lock on DATA_DIR/wamulti.lock.

Two processes on one SQLite file would each connect the same accounts (WhatsApp then closes one
for good with `stream_replaced`); several instances share clients only on MySQL with CLUSTER=on.
The lock is a POSIX record lock: the kernel drops it when the process dies (even by SIGKILL), so a
crash never leaves DATA_DIR locked. POSIX locks belong to the process, and closing any descriptor
of the file drops them, so one descriptor per path is kept here and counted across the stores of
one process (tests open several on one directory).
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from .store_api import StoreError

LOCK_NAME = "wamulti.lock"

_held: dict[Path, list[int]] = {}  # path -> [descriptor, stores holding it]
_held_lock = threading.Lock()


class DataDirInUse(StoreError):
    """Another process holds DATA_DIR."""


def lock_data_dir(data_dir: Path) -> Path:
    """Hold DATA_DIR for this process (again, if it already does); raise DataDirInUse if another does."""
    path = (Path(data_dir) / LOCK_NAME).resolve()
    with _held_lock:
        if path in _held:
            _held[path][1] += 1
            return path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(f"DATA_DIR {path.parent} is in use by another wamulti process (pid {holder}); "
                               "the embedded SQLite store serves one process: stop it, or share clients "
                               "between instances with MySQL and CLUSTER=on") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held[path] = [fd, 1]
        return path


def unlock_data_dir(path: Path) -> None:
    """This store's hold ends; the lock goes with the process's last one."""
    with _held_lock:
        entry = _held.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[path]
            os.close(entry[0])  # closing the descriptor drops the lock
