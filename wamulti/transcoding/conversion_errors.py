"""ConversionFailed, and the one short line a failed ffmpeg or ffprobe run is reported with."""

from __future__ import annotations

import re

from ..errors import DomainError

REASON_MAX_CHARS = 160
UNREADABLE = "the file is not audio or video this service can read"
# ffmpeg's words for the usual failures, and ours for the caller (who never sees ffmpeg's own output)
KNOWN_REASONS = (
    ("Format not on whitelist", "the file is not in a format this service converts"),
    ("moov atom not found", "the file is truncated or not a complete MP4 or M4A"),
    ("Invalid data found when processing input", UNREADABLE),
    ("matches no streams", "the file has no {stream} stream"),
    ("No such file or directory", "the stored file is missing"),
)
_CONTEXT_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")  # "[mp3 @ 0x55d0...] "
_PATH = re.compile(r"(?:file:)?(?:/[^\s/:,'\"]+)+/?")  # absolute paths (DATA_DIR's among them)
_COLOUR = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # terminal colour codes
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")


class ConversionFailed(DomainError):
    """A file could not be converted or measured: unreadable, unsupported, too slow, or no ffmpeg.

    The message is one sentence safe to show a caller: never ffmpeg's output as it came, never a path."""


def tool_reason(stderr: bytes, stream: str = "audio") -> str:
    """What a failed run's stderr says, as a short clean phrase (`stream` names what was wanted)."""
    text = stderr.decode("utf-8", "replace")
    for words, reason in KNOWN_REASONS:
        if words in text:
            return reason.format(stream=stream)
    lines = [_CONTEXT_PREFIX.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("To ignore this")]
    if not lines:
        return "ffmpeg gave no reason"
    last = clean_line(lines[-1])
    return UNREADABLE if last.startswith("<file>:") else last  # the input could not be opened


def clean_line(line: str) -> str:
    """One line with paths replaced, unprintable characters dropped, and cut to a readable length."""
    line = _NOT_PRINTABLE.sub("", _PATH.sub("<file>", _COLOUR.sub("", line))).strip().rstrip(".")
    if len(line) > REASON_MAX_CHARS:
        line = line[:REASON_MAX_CHARS - 3].rstrip() + "..."
    return line
