"""How long the Go lock must be held: the real library, offline, under load (docs/neonize.md "The Go lock").

    python -m bench.golock            # prints a table, writes bench/results/golock.json
    python -m bench.golock --base REV # the before/after rows against commit REV (default: BEFORE)

Three child processes of one run, each with the real NeonizeBackend, the first two with Go logging
at DEBUG, so that its "Dialing" line (logged once a start has registered its client, right before the dial)
can be timed where Go hands it to Python:
- refused: dials go to a closed loopback port (127.0.0.1:9) and fail at once. 100 sessions start
  on fresh session files (each start creates its tables) and stay registered; then 16 threads send
  and look numbers up through them (every call fails at once in Go) while 4 threads start and stop
  other sessions (map writes) for the whole time.
- hanging: dials go to a loopback endpoint that accepts and never answers, so every dial hangs
  (~60 s). 100 sessions on the files the first child made and 20 on fresh ones start one after
  another while 16 threads send through the sessions already started (SendMessage fails at once:
  not logged in).
- hanging at WARNING (the default): the same with 30 starts on existing files and Go at WARNING,
  where no line tells a start has registered: what the sends of other sessions wait, start after
  start (each start is exclusive for REGISTER_HOLD once seen inside Go).
Every Go call is timed right where it enters the ctypes library (beneath the lock), and the sends
also from where our session calls neonize's wrapper (so including any wait for the lock). A probe
thread times Go entry -> past the client lookup by the line Go prints for an unknown client, and
the same path without Go (a libc write). 4 threads keep a number lookup waiting ~60 s in Go (on a
client whose dial hangs) while the starts go on. Then, twice in the same way, once on this tree and
once on commit BEFORE's (unpacked with `git archive`), only what both versions have: other
clients' sends during 4 hanging starts, and beside a start that comes while a lookup waits in Go. Figures are p50 / p99 / max in milliseconds; the
bounds chosen from them are in wamulti/backends/neonize/starts.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ROOT, report

OFFLINE_PROXY = "http://127.0.0.1:9"
SESSIONS, FRESH, WARNING_STARTS = 100, 20, 30
CALLERS, CHURNERS, SLOW_CALLERS = 16, 4, 4
STEADY = 8.0  # seconds of calls with churn in the refused child
LOAD_SETTLE = 0.05  # settle bound in the hanging children: 120 hanging starts at 1 s each would take 2 minutes
TO = "4915123456789@s.whatsapp.net"


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples) or [0.0]
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(samples), "p50_ms": round(pick(0.5) * 1e3, 3), "p99_ms": round(pick(0.99) * 1e3, 3),
            "max_ms": round(ordered[-1] * 1e3, 3)}


class Timings:
    """Stands beneath GoCalls in place of neonize's ctypes library: how long each call spends in Go,
    and when each start (by uuid) entered it."""

    def __init__(self, library):
        self._library = library
        self.calls: dict[str, list[float]] = {}
        self.entered: dict[str, float] = {}
        self.probe_uuid = b""
        self.probe_entries: list[float] = []  # when each probe call entered Go, in order
        self.baseline_entries: list[float] = []  # when each baseline write entered C, in order
        self._guard = threading.Lock()

    def __getattr__(self, name):
        from wamulti.backends.neonize.gocalls import _enter_go  # so the lock still sees the call in Go

        function = getattr(self._library, name)

        def timed(*args):
            started = time.monotonic()
            if name == "Neonize":
                self.entered[args[1].decode()] = started
            elif name == "SendMessage" and args[0] == self.probe_uuid:
                self.probe_entries.append(started)
            try:
                return _enter_go(function, args)
            finally:
                with self._guard:
                    self.calls.setdefault(name, []).append(time.monotonic() - started)

        return timed


class Child:
    """One child's backend, instrumented: Go calls beneath the lock, "Dialing" where Go calls Python."""

    def __init__(self, data: Path, go_level: str, settle: float | None = None):
        from wamulti.backends.neonize import neonize_backend as nb
        from wamulti.backends.neonize.starts import LockBounds
        from wamulti.config import Settings

        logging.basicConfig(level=logging.ERROR)
        settings = Settings(api_key="k" * 16, data_dir=data, log_level=go_level)
        self.backend = nb.NeonizeBackend(settings, bounds=LockBounds(settle=settle) if settle else LockBounds())
        logging.getLogger().setLevel(logging.ERROR)  # Go's DEBUG lines are timed, not printed
        import neonize.client as nc

        self.timings = Timings(nc.gocode)
        nc.gocode = self.timings  # each NewClient takes its library from here
        self.dialing: dict[str, float] = {}
        route = self.backend._router.callback_for
        self.backend._router.callback_for = lambda client_id: self._timed_log(client_id, route(client_id))
        self.data = data
        self.sends: list[float] = []  # our wrapper: session.send_text entry -> return
        self.exclusive_waits: list[float] = []  # a start or stop waiting for the exclusive side
        self._guard = threading.Lock()
        acquire = self.backend.lock.acquire_exclusive

        def timed_acquire():
            started = time.monotonic()
            acquire()
            self.exclusive_waits.append(time.monotonic() - started)

        self.backend.lock.acquire_exclusive = timed_acquire

    def _timed_log(self, client_id, inner):
        import ctypes

        from neonize.proto.Neonize_pb2 import LogEntry

        def on_log(binary, size):
            when = time.monotonic()
            if LogEntry.FromString(ctypes.string_at(binary, size)).Message.startswith("Dialing"):
                self.dialing.setdefault(client_id, when)
            inner(binary, size)

        return on_log

    def start(self, name: str):
        """Start a session on a thread of its own (connect() blocks while a dial hangs)."""
        session = self.backend.new_session(name, self.data / f"{name}.session", lambda event: None)
        threading.Thread(target=self._connect, args=(session,), daemon=True).start()
        return session

    @staticmethod
    def _connect(session) -> None:
        try:
            session.connect()
        except Exception:
            pass

    def registration(self, sessions) -> list[float]:
        """Go entry -> "Dialing" for each session whose start got that far."""
        return [self.dialing[s.client_id] - self.timings.entered[s.uuid] for s in sessions
                if s.client_id in self.dialing and s.uuid in self.timings.entered]

    def call_loop(self, sessions: list, until: threading.Event, lookups: bool) -> None:
        from wamulti.backends.backend_api import BackendError

        i = 0
        while not until.is_set():
            live = list(sessions)
            if not live:
                time.sleep(0.01)
                continue
            session = live[i % len(live)]
            i += 1
            started = time.monotonic()
            try:
                session.lookup_phone("4915123456789") if lookups and i % 2 else session.send_text(TO, "x")
            except BackendError:
                pass
            with self._guard:
                self.sends.append(time.monotonic() - started)

    def callers(self, sessions: list, until: threading.Event, lookups: bool) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.call_loop, args=(sessions, until, lookups), daemon=True)
                   for _ in range(CALLERS - 1)]
        threads.append(threading.Thread(target=self.probe_loop, args=(until,), daemon=True))
        for t in threads:
            t.start()
        return threads

    def probe_loop(self, until: threading.Event) -> None:
        """One thread sending through a client Go does not know (started and stopped): Go looks it
        up, finds nothing and prints "client is nil" to stdout with no need for the GIL. The parent
        times each line as it arrives: Go entry -> past the lookup, without the way back. In turn
        it writes a line with libc's write(), entered the same way: the same path without Go (the
        wait for the GIL on the way in, ctypes, one system call), which the lock does not count."""
        import ctypes

        from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message
        from neonize.utils import build_jid

        from wamulti.backends.neonize.gocalls import _enter_go  # so the lock still sees the call in Go

        write = ctypes.CDLL(None).write

        probe = self.backend.new_session("probe", self.data / "probe.session", lambda event: None)
        probe.stop()
        self.timings.probe_uuid = probe.client.uuid
        jid, message = build_jid("4915123456789"), Message(conversation="x")
        while not until.is_set():
            try:
                probe.client.send_message(jid, message)  # beneath our session, through the lock
            except Exception:
                pass
            time.sleep(0.001)
            self.timings.baseline_entries.append(time.monotonic())
            _enter_go(write, (1, b"gil-baseline\n", 13))
            time.sleep(0.001)


def wait_started(child: Child, sessions: list, timeout: float = 30.0) -> None:
    """Until each session's start has entered Go (and, for a refused dial, returned)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(s.uuid in child.timings.entered for s in sessions):
        time.sleep(0.01)


def refused_child(data: Path) -> dict:
    child = Child(data, "DEBUG")
    sessions = []
    for i in range(SESSIONS):
        sessions.append(child.start(f"c{i:03d}"))
        wait_started(child, sessions[-1:])
    time.sleep(0.5)
    until = threading.Event()
    callers = child.callers(sessions, until, lookups=True)
    churn = [threading.Thread(target=churn_loop, args=(child, n, until), daemon=True) for n in range(CHURNERS)]
    for t in churn:
        t.start()
    time.sleep(STEADY)
    until.set()
    for t in callers + churn:
        t.join(30)
    calls = child.timings.calls
    return {"registration_fresh": child.registration(sessions), "neonize_refused": calls.get("Neonize", []),
            "send_go": calls.get("SendMessage", []), "lookup_go": calls.get("IsOnWhatsApp", []),
            "stop_go": calls.get("Stop", []), "send_wrapper": child.sends,
            "probe_entries": child.timings.probe_entries, "baseline_entries": child.timings.baseline_entries}


def churn_loop(child: Child, n: int, until: threading.Event) -> None:
    from wamulti.backends.backend_api import ConnectFailed

    while not until.is_set():
        session = child.backend.new_session(f"churn{n}", child.data / f"churn{n}.session", lambda event: None)
        try:
            session.connect()
        except ConnectFailed:
            pass
        session.stop()
        time.sleep(0.05)


def hanging_child(data: Path, go_level: str) -> dict:
    child = Child(data, go_level, settle=LOAD_SETTLE)
    names = ([f"c{i:03d}" for i in range(SESSIONS)] + [f"fresh{i:02d}" for i in range(FRESH)]
             if go_level == "DEBUG" else [f"c{i:03d}" for i in range(WARNING_STARTS)])  # existing files
    started: list = []
    until = threading.Event()
    callers = child.callers(started, until, lookups=False)
    for n in range(SLOW_CALLERS):  # a number lookup on a client whose dial hangs waits ~60 s in Go
        threading.Thread(target=slow_loop, args=(started, n), daemon=True).start()
    for name in names:
        session = child.start(name)
        wait_started(child, [session])
        started.append(session)
    time.sleep(1.0)
    until.set()
    for t in callers:
        t.join(30)
    return {"registration_existing": child.registration(started[:SESSIONS]),
            "registration_fresh": child.registration(started[SESSIONS:]) if go_level == "DEBUG" else [],
            "send_go": child.timings.calls.get("SendMessage", []), "send_wrapper": child.sends,
            "starts": len(started), "dialing_seen": len(child.dialing),
            "exclusive_waits": child.exclusive_waits,
            "probe_entries": child.timings.probe_entries, "baseline_entries": child.timings.baseline_entries}


def slow_loop(sessions: list, n: int) -> None:
    from wamulti.backends.backend_api import BackendError

    while True:
        live = list(sessions)
        if len(live) <= n:
            time.sleep(0.01)
            continue
        try:
            live[-1 - n].lookup_phone("4915123456789")
        except BackendError:
            pass


BEFORE = "edb1a90"  # this branch's base: a start held the lock up to 3 s, a send for its whole call
COMPARE_STARTS = 4  # before, each held every send up to 3 s: 12 s


def compare_child(data: Path) -> dict:
    """Only what every version of the backend has: other clients' sends during hanging starts, then
    beside a start that comes while a number lookup waits ~60 s in Go (Go at WARNING, existing files).
    Each window counts every send under way in it, with how long it had been under way by the time
    it returned or the window closed."""
    from wamulti.backends.backend_api import BackendError
    from wamulti.backends.neonize.neonize_backend import NeonizeBackend
    from wamulti.config import Settings

    logging.basicConfig(level=logging.ERROR)
    backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=data, log_level="WARNING"))

    def start(name):
        session = backend.new_session(name, data / f"{name}.session", lambda event: None)
        threading.Thread(target=lambda: _quiet(session.connect, BackendError), daemon=True).start()
        return session

    others = [start(f"c{90 + i:03d}") for i in range(3)]
    time.sleep(10)  # their starts are over (3 s each at most, before)
    sends: list[list[float]] = []  # [began, finished or 0]

    def send_loop(session):
        while True:
            entry = [time.monotonic(), 0.0]
            sends.append(entry)
            _quiet(lambda: session.send_text(TO, "x"), BackendError)
            entry[1] = time.monotonic()
            time.sleep(0.005)

    for session in others:
        threading.Thread(target=send_loop, args=(session,), daemon=True).start()
    time.sleep(1)
    windows = {"starts": (time.monotonic(), None)}
    for i in range(COMPARE_STARTS):
        start(f"c{i:03d}")
    time.sleep(COMPARE_STARTS * 3 + 1)
    windows["starts"] = (windows["starts"][0], time.monotonic())
    time.sleep(2)
    threading.Thread(target=lambda: _quiet(lambda: others[0].lookup_phone("4915123456789"), BackendError),
                     daemon=True).start()
    time.sleep(1)
    began = time.monotonic()
    start("c050")
    time.sleep(6)
    windows["slow_call"] = (began, time.monotonic())
    return {name: [min(end or to, to) - t for t, end in list(sends) if t <= to and (not end or end >= since)]
            for name, (since, to) in windows.items()}


def _quiet(call, errors) -> None:
    try:
        call()
    except errors:
        pass


def child_main(kind: str, data: str) -> None:
    if kind == "compare":
        result = compare_child(Path(data))
    elif kind == "refused":
        result = refused_child(Path(data))
    else:
        result = hanging_child(Path(data), kind.split("-")[1])
    print("RESULT " + json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # the hanging dials' threads (neonize's are not daemons) are left to the exit


def run_child(kind: str, data: Path, proxy: str, tree: Path = ROOT) -> dict:
    """Run a child on `tree`'s wamulti; time its probe's "client is nil" lines as they arrive
    (CLOCK_MONOTONIC is shared between processes)."""
    env = {**os.environ, "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "PYTHONPATH": str(tree)}
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", kind, str(data)], cwd=tree,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True).start()
    printed, baseline, result = [], [], None
    for line in proc.stdout:
        if "client is nil" in line:
            printed.append(time.monotonic())
        elif line.startswith("gil-baseline"):
            baseline.append(time.monotonic())
        elif line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    if proc.wait(900) != 0 or result is None:
        sys.exit(f"child {kind} failed ({proc.returncode}):\n{''.join(stderr)[-3000:]}")
    for name, seen in (("probe", printed), ("baseline", baseline)):
        if f"{name}_entries" not in result:
            continue
        entries = result[f"{name}_entries"]
        if len(seen) != len(entries):
            sys.exit(f"child {kind}: {len(entries)} {name} calls but {len(seen)} lines")
        result[f"{name}_lookup"] = [at - entered for at, entered in zip(seen, entries)]
    return result


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def unpack(rev: str, into: Path) -> Path:
    """Commit `rev`'s tree in a directory of its own (`git archive`)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main(base: str = BEFORE) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.silent_listener import SilentListener
    from wamulti.backends.neonize.starts import ENTRY_MARGIN, REGISTER_HOLD, REGISTER_HOLD_FRESH, START_SETTLE

    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="wamulti-golock-") as tmp:
        refused = run_child("refused", Path(tmp), OFFLINE_PROXY)
        listener = SilentListener()
        try:
            hanging = run_child("hanging-DEBUG", Path(tmp), listener.url)
            warning = run_child("hanging-WARNING", Path(tmp), listener.url)
            after = run_child("compare", Path(tmp), listener.url)
            before = run_child("compare", Path(tmp), listener.url, unpack(base, Path(tmp) / "before"))
        finally:
            listener.close()
    rows = [
        {"what": "lookup call, Go entry -> past its lookup: probe (refused child, churn)", **percentiles(refused["probe_lookup"])},
        {"what": "lookup call, Go entry -> past its lookup: probe (hanging child, 120 starts)", **percentiles(hanging["probe_lookup"])},
        {"what": "the same path without Go: libc write (refused child, churn)", **percentiles(refused["baseline_lookup"])},
        {"what": "the same path without Go: libc write (hanging child, 120 starts)", **percentiles(hanging["baseline_lookup"])},
        {"what": "lookup call, Go entry -> return: SendMessage (refused child, churn)", **percentiles(refused["send_go"])},
        {"what": "lookup call, Go entry -> return: IsOnWhatsApp (refused child, churn)", **percentiles(refused["lookup_go"])},
        {"what": "lookup call, Go entry -> return: SendMessage (hanging child, 120 starts)", **percentiles(hanging["send_go"])},
        {"what": "start, Go entry -> Dialing: fresh file (refused child)", **percentiles(refused["registration_fresh"])},
        {"what": "start, Go entry -> Dialing: existing file (hanging child)", **percentiles(hanging["registration_existing"])},
        {"what": "start, Go entry -> Dialing: fresh file (hanging child)", **percentiles(hanging["registration_fresh"])},
        {"what": "start, Go entry -> return: refused dial (refused child)", **percentiles(refused["neonize_refused"])},
        {"what": "Stop, Go entry -> return (refused child, churn)", **percentiles(refused["stop_go"])},
        {"what": "start, wait for the exclusive side, 4 calls waiting ~60 s in Go (hanging, DEBUG)", **percentiles(hanging["exclusive_waits"])},
        {"what": "start, wait for the exclusive side, 4 calls waiting ~60 s in Go (hanging, WARNING)", **percentiles(warning["exclusive_waits"])},
        {"what": "send, our call -> return incl. lock wait (refused child, churn)", **percentiles(refused["send_wrapper"])},
        {"what": "send, our call -> return incl. lock wait (hanging, DEBUG)", **percentiles(hanging["send_wrapper"])},
        {"what": "send, our call -> return incl. lock wait (hanging, WARNING)", **percentiles(warning["send_wrapper"])},
        {"what": f"before ({base}): other clients' sends under way during {COMPARE_STARTS} hanging starts", **percentiles(before["starts"])},
        {"what": f"after: other clients' sends under way during {COMPARE_STARTS} hanging starts", **percentiles(after["starts"])},
        {"what": f"before ({base}): sends under way beside a start and a lookup waiting ~60 s in Go (6 s)", **percentiles(before["slow_call"])},
        {"what": "after: sends under way beside a start and a lookup waiting ~60 s in Go (6 s)", **percentiles(after["slow_call"])},
    ]
    by = {row["what"]: row for row in rows}
    lookup_max = max(r["max_ms"] for r in rows[:2]) / 1e3
    existing_max = by["start, Go entry -> Dialing: existing file (hanging child)"]["max_ms"] / 1e3
    fresh_max = max(r["max_ms"] for w, r in by.items() if w.startswith("start, Go entry -> Dialing: fresh")) / 1e3
    report("golock", rows, {
        "entry_margin_s": ENTRY_MARGIN, "entry_margin_over_max": round(ENTRY_MARGIN / lookup_max, 1),
        "register_hold_s": REGISTER_HOLD, "register_hold_over_max": round(REGISTER_HOLD / existing_max, 1),
        "register_hold_fresh_s": REGISTER_HOLD_FRESH, "register_hold_fresh_over_max": round(REGISTER_HOLD_FRESH / fresh_max, 1),
        "start_settle_s": START_SETTLE, "load_settle_s_in_hanging_children": LOAD_SETTLE,
        "hanging_starts_seen_dialing": f"{hanging['dialing_seen']}/{hanging['starts']}",
        "loadavg_before": load_before, "loadavg_after": loadavg(),
    })


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--base":
        main(sys.argv[2])
    else:
        main()
