"""The instance id: who took a send (outbound rows' `claimed_by`), kept in DATA_DIR across restarts.

A process that starts again with the same DATA_DIR is the same instance: the rows its earlier life
left `sending` are its own, and it fails them as `outcome_unknown` at once. Another server on the
same database has its own DATA_DIR (its own session files), so its own id, and its sends under way
are left alone.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

FILE_NAME = "instance-id"
_SHAPE = re.compile(r"[0-9a-f]{16}")


def instance_id(data_dir: Path) -> str:
    """The id kept in data_dir (made and written durably the first time)."""
    path = Path(data_dir) / FILE_NAME
    try:
        kept = path.read_text(encoding="ascii").strip()
        if _SHAPE.fullmatch(kept):
            return kept
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    made = secrets.token_hex(8)
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    with open(temporary, "w", encoding="ascii") as fh:
        fh.write(made + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)
    return made
