"""The pairing child: one unlinked client's whole pairing phase, in a process of its own.

    python -m wamulti.backends.neonize.pairing_child <session_path> <client_id> <event_fd> <log_level>

Why a process: neonize's Go side ranges over whatsmeow's QR channel, made with
context.Background(), and Stop() does not close it; an abandoned pairing inside the server kept
two Python threads, Go goroutines, a whatsmeow client and an SQLite handle for good. Ending this
process releases all of it (and the descriptor each failed dial leaks inside the library).

Protocol, one JSON object a line. Commands on stdin: {"pair_phone": "<digits>"}. Reports on the
descriptor event_fd (not stdout: Go prints there): {"qr": data}, {"code": "XXXX-XXXX"} or
{"code_error": reason} (the answer to pair_phone), then one of {"paired": jid}, {"failed": reason},
{"ended": reason or null} (the connection ended), after which the child exits. It also exits when
stdin closes (the server is gone). whatsmeow saves the device and confirms the pairing before it
dispatches PairSuccess, so exiting right after "paired" leaves a complete session file.

Logging: its own, to stderr, WARNING and up from Python and Go alike (Go's DEBUG lines carry QR
data), never a code. GOTRACEBACK=none (set by the parent) keeps a Go crash to one line.

`--test-feed` (tests only; nothing in the server passes it) also accepts {"feed": ...} commands
that push real event protobufs through the client's own entry point, as Go would.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading

from ..reasons import clip

log = logging.getLogger("wamulti.backends.neonize.pairing_child")


def _short(exc: BaseException) -> str:
    return clip(str(exc)) or type(exc).__name__


class Reporter:
    """Writes report lines to the parent; any thread (Go's callbacks, the main thread)."""

    def __init__(self, fd: int):
        self._out = os.fdopen(fd, "w", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def send(self, **report) -> None:
        with self._lock:
            try:
                self._out.write(json.dumps(report) + "\n")
                self._out.flush()
            except OSError:
                pass  # the parent is gone: stdin's end follows


def _configure_logging(level: str) -> None:
    """Ours before neonize's import (it calls basicConfig); Go is fixed at WARNING at connect()."""
    logging.basicConfig(level=max(logging.WARNING, logging.getLevelName(level)), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s")
    logging.getLogger("neonize").setLevel(logging.WARNING)
    logging.getLogger("neonize.utils.ffmpeg").setLevel(logging.ERROR)  # the server warned once already
    logging.getLogger("neonize.utils.log").setLevel(logging.WARNING)


class PairingChild:
    """The NewClient over the session file, its handlers, and the loop that answers the parent."""

    def __init__(self, session_path: str, client_id: str, reporter: Reporter, test_feed: bool):
        import neonize.client as nc
        from neonize.events import PairStatusEv
        from neonize.proto.Neonize_pb2 import LogEntry

        from ...seams.neonize_internals import route_go_log
        from .golog import GoLogRouter

        self.client_id = client_id
        self._nc = nc
        self._report = reporter
        self._test_feed = test_feed
        self.inbox: queue.Queue = queue.Queue()  # ("command"|"paired"|"failed"|"ended"|"eof", value)
        self._router = GoLogRouter(logging.WARNING, lambda _client_id: None, LogEntry.FromString)
        route_go_log(nc, self._router.callback_for(client_id))
        self.client = nc.NewClient(session_path, uuid=f"{client_id}#pairing")
        self.client.event.qr(lambda _c, data: reporter.send(qr=data.decode("utf-8", "replace")))
        self.client.event(PairStatusEv)(self._on_pair_status)

    def _on_pair_status(self, _client, ev) -> None:
        if ev.Status == ev.SUCCESS:
            self.inbox.put(("paired", f"{ev.ID.User}@{ev.ID.Server or 's.whatsapp.net'}"))
        else:
            self.inbox.put(("failed", clip(ev.Error or "pairing refused")))

    def start(self) -> None:
        threading.Thread(target=self._connect, name="connect", daemon=True).start()
        threading.Thread(target=self._read_commands, name="stdin", daemon=True).start()

    def _connect(self) -> None:
        try:
            self.client.connect()
        except self._nc.NeonizeError as exc:
            self.inbox.put(("ended", _short(exc)))
            return
        self.inbox.put(("ended", None))

    def _read_commands(self) -> None:
        for line in sys.stdin:
            try:
                command = json.loads(line)
            except ValueError:
                continue
            if isinstance(command, dict):
                self.inbox.put(("command", command))
        self.inbox.put(("eof", None))

    def _pair_phone(self, digits: str) -> None:
        try:
            code = self.client.PairPhone(digits, show_push_notification=True)
        except self._nc.NeonizeError as exc:
            self._report.send(code_error=_short(exc))
            return
        self._report.send(code=code)

    def run(self) -> None:
        """Answer commands until the pairing ends one way or another."""
        while True:
            kind, value = self.inbox.get()
            if kind == "command":
                self._command(value)
            elif kind == "eof":
                return
            else:  # paired, failed, ended: the last word
                self._report.send(**{kind: value})
                return

    def _command(self, command: dict) -> None:
        if isinstance(command.get("pair_phone"), str):
            # whatsmeow's PairPhone waits for the socket (a dial may hang): never block this loop
            threading.Thread(target=self._pair_phone, args=(command["pair_phone"],), name="pair-phone",
                             daemon=True).start()
        elif self._test_feed and "feed" in command:
            from . import pairing_feed

            pairing_feed.feed(self.client, command)


def main(argv: list[str]) -> None:
    session_path, client_id, event_fd, level = argv[:4]
    _configure_logging(level)
    reporter = Reporter(int(event_fd))
    try:
        child = PairingChild(session_path, client_id, reporter, test_feed="--test-feed" in argv[4:])
        child.start()
        child.run()
    except Exception as exc:  # a library surprise ends this attempt only, with a reason
        log.error("[%s] pairing process failed: %s", client_id, type(exc).__name__)
        reporter.send(failed=f"pairing process error: {type(exc).__name__}")
    finally:
        sys.stderr.flush()
        os._exit(0)  # neonize's connect() runs on a non-daemon thread: leave without joining it


if __name__ == "__main__":
    main(sys.argv[1:])
