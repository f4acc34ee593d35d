"""Go's log level and what it costs: 200 neonize clients dialling, Go at DEBUG (before) and at
WARNING (after, the default), each in a child process of its own, in one run.

    python -m bench.golog_cpu            # prints CPU seconds, Go lines that crossed into Python, ratios

Every client dials through a proxy on a closed loopback port (127.0.0.1:9), so each dial fails at
once and nothing leaves the machine. What offline traffic can show: the lines a start produces (at
DEBUG one, "Dialing ...", per dial) and what each line costs once it crossed cgo and took the GIL
(measured by calling the same per-client callback Go calls, through a real ctypes function
pointer). What it cannot show: a connected client's steady state, where at DEBUG whatsmeow logs
every protocol node it sends and receives; the per-line cost below times those lines is the
estimate, and a user with a phone should count them (LOG_LEVEL=DEBUG shows them).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, report

CLIENTS = 200
DIALS_EACH = 3  # a client in reconnect backoff dials again and again
LINES_TIMED = 20000
OFFLINE_PROXY = "http://127.0.0.1:9"


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def dial_all(backend, data_dir: Path) -> None:
    from wamulti.backends.backend_api import ConnectFailed

    for round_ in range(DIALS_EACH):
        for i in range(CLIENTS):
            session = backend.new_session(f"c{i:03d}", data_dir / f"c{i:03d}.session", lambda event: None)
            try:
                session.connect()
                raise SystemExit("a dial succeeded: this benchmark must run offline")
            except ConnectFailed:
                pass
            session.stop()


def per_line_cost(backend) -> float:
    """CPU seconds per Go line on the Python side: ctypes thunk (GIL), copy, queue, decode, filter."""
    from neonize.proto.Neonize_pb2 import LogEntry

    callback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t)(backend._router.callback_for("bench"))
    data = LogEntry(Level="DEBUG", Name="Client/Socket", Message="<-- <iq from=\"s.whatsapp.net\" "
                    "id=\"1234.5678-9\" type=\"result\"><ping/></iq>").SerializeToString()
    buf = ctypes.create_string_buffer(data, len(data))
    target = sum(backend._router.counts.values()) + LINES_TIMED
    before = cpu_now()
    for _ in range(LINES_TIMED):
        callback(ctypes.addressof(buf), len(data))
    while sum(backend._router.counts.values()) < target:  # until the router thread caught up
        time.sleep(0.01)
    return (cpu_now() - before) / LINES_TIMED


def child(go_level: str) -> None:
    """One process: the backend as configured, Go at go_level; prints its figures as JSON."""
    from wamulti.backends.neonize.neonize_backend import NeonizeBackend
    from wamulti.config import Settings

    with tempfile.TemporaryDirectory(prefix="wamulti-golog-") as tmp:
        backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=Path(tmp), log_level="WARNING"))
        logging.getLogger("neonize.utils.log").setLevel(go_level)  # DEBUG: how the backend ran before
        started, cpu0 = time.monotonic(), cpu_now()
        dial_all(backend, Path(tmp))
        time.sleep(0.5)  # the router thread drains what Go handed over
        dial_cpu, wall = cpu_now() - cpu0, time.monotonic() - started
        lines = sum(backend._router.counts.values())
        cost = per_line_cost(backend)
        backend.close()
    print(json.dumps({"go_level": go_level, "dials": CLIENTS * DIALS_EACH, "cpu_s": round(dial_cpu, 3),
                      "wall_s": round(wall, 2), "go_lines": lines, "us_per_line": round(cost * 1e6, 2)}))


def run_child(go_level: str) -> dict:
    env = {**os.environ, "HTTPS_PROXY": OFFLINE_PROXY, "HTTP_PROXY": OFFLINE_PROXY, "PYTHONPATH": str(ROOT)}
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    out = subprocess.run([sys.executable, "-m", "bench.golog_cpu", "--child", go_level], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    before, after = run_child("DEBUG"), run_child("WARNING")
    rows = [{"": "before (Go at DEBUG)", **before}, {"": "after (Go at WARNING)", **after}]
    report("golog_cpu", rows, {
        "cpu_ratio_after_over_before": round(after["cpu_s"] / before["cpu_s"], 3),
        "go_lines_per_dial_before": round(before["go_lines"] / before["dials"], 2),
        "go_lines_per_dial_after": round(after["go_lines"] / after["dials"], 2),
        "python_cpu_per_go_line_us": before["us_per_line"],
        "note": "offline only the start is seen; steady-state DEBUG traffic (every protocol node) "
                "costs python_cpu_per_go_line_us per line plus Go's formatting, and is gone at WARNING",
    })


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
