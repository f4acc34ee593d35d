"""One run of ffmpeg or ffprobe: in a conversion slot, with a deadline, stdin closed, stderr kept
aside (a temporary file, so a chatty failure never blocks the pipe) and reported as one clean line.

The process leads its own process group; at the deadline the whole group is killed. stdout is read
in chunks: kept (up to a cap) or handed to `consume` as it comes, so a long decode never sits in
memory whole."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import BinaryIO, Callable, Sequence

from .conversion_errors import ConversionFailed, tool_reason
from .limits import conversion_slot, processes, run_timeout

log = logging.getLogger(__name__)

QUIET = {"ffmpeg": ("-nostdin", "-hide_banner", "-loglevel", "error"),
         "ffprobe": ("-hide_banner", "-loglevel", "error")}
CHUNK_BYTES = 64 * 1024
OUTPUT_CAP = 4 * 1024 * 1024  # what a run may print when its output is kept (probe JSON, a thumbnail)
STDERR_TAIL = 8192  # bytes of stderr read back to explain a failure


class _Deadline:
    """Kills a process group when the run's time is up (a timer thread), unless it ended first."""

    def __init__(self, proc: subprocess.Popen, seconds: float):
        self._proc = proc
        self._lock = threading.Lock()
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.name = "transcode-deadline"
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._proc.returncode is None:
                self.expired = True
                kill_group(self._proc)

    def cancel(self) -> None:
        with self._lock:
            self._timer.cancel()


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process's group (the process leads it: start_new_session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_tool(tool: str, args: Sequence[str], *, purpose: str, stream: str = "audio",
             consume: Callable[[bytes], None] | None = None, timeout: float | None = None) -> bytes:
    """Run `tool` (ffmpeg or ffprobe) with `args`; its stdout, or b"" when `consume` took it.

    `purpose` finishes "Could not ..." in the ConversionFailed raised on any failure."""
    exe = shutil.which(tool)
    if exe is None:
        raise ConversionFailed(f"{tool} is not installed (Debian package ffmpeg): could not {purpose}.")
    seconds = run_timeout() if timeout is None else timeout
    with conversion_slot(), tempfile.TemporaryFile() as errors:
        proc = _start([exe, *QUIET[tool], *args], errors, tool, purpose)
        processes.process_started()
        deadline = _Deadline(proc, seconds)
        try:
            output = _read_all(proc.stdout, consume)
        finally:
            if proc.poll() is None:  # consume raised, or the output passed its cap: stop the run
                kill_group(proc)
            proc.stdout.close()
            proc.wait()
            deadline.cancel()
            processes.process_ended()
        _check_outcome(proc, deadline, errors, seconds, purpose, stream)
        return output


def _start(command: list[str], errors: BinaryIO, tool: str, purpose: str) -> subprocess.Popen:
    """The tool's process, leading a session (and process group) of its own."""
    try:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                start_new_session=True, close_fds=True)
    except OSError as exc:  # not executable, out of processes or memory
        log.warning("transcoding: could not start %s: %s", tool, exc.strerror)
        raise ConversionFailed(f"Could not {purpose}: {tool} could not be started ({exc.strerror}).") from None


def _read_all(stdout: BinaryIO, consume: Callable[[bytes], None] | None) -> bytes:
    kept = bytearray()
    while chunk := stdout.read1(CHUNK_BYTES):
        if consume is not None:
            consume(chunk)
            continue
        kept += chunk
        if len(kept) > OUTPUT_CAP:
            raise ConversionFailed("Could not convert: the tool's output passed its size limit.")
    return bytes(kept)


def _check_outcome(proc: subprocess.Popen, deadline: _Deadline, errors: BinaryIO, seconds: float,
                   purpose: str, stream: str) -> None:
    if deadline.expired:
        log.warning("transcoding: could not %s: it took longer than %g s (process killed)", purpose, seconds)
        raise ConversionFailed(f"Could not {purpose}: it took longer than {seconds:g} s.")
    if proc.returncode != 0:
        errors.seek(max(0, errors.seek(0, os.SEEK_END) - STDERR_TAIL))
        reason = tool_reason(errors.read(), stream)
        log.warning("transcoding: could not %s: %s (exit %s)", purpose, reason, proc.returncode)
        raise ConversionFailed(f"Could not {purpose}: {reason}.")
