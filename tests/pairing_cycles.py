"""Abandoned pairings against a real server, and the server's resources around them.

Shared by tests/test_pairing_leak.py (a few cycles in CI) and bench/pairing_leak.py (50 cycles,
this tree against an older one). The server dials through HTTPS_PROXY = a SilentListener, so each
pairing attempt hangs in its dial until it is abandoned: by DELETE, by a re-pair with another
number, or by PAIRING_TIMEOUT.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.server_process import ServerProcess
from tests.silent_listener import SilentListener

PHONE, OTHER_PHONE = "+4915123456789", "+4915987654321"
KINDS = ("delete", "re-pair", "timeout")
DIAL_WAIT = 30.0  # seconds a new attempt may take to dial (the old design's stops block starts ~55 s)


@dataclass(frozen=True)
class Reading:
    threads: int
    fds: int
    rss_mb: float
    children: int  # processes the server started that are still running


def _tcp_ports(pid: int) -> dict[str, tuple[int, int]]:
    """socket inode -> (local port, remote port) of the process's TCP sockets."""
    ports = {}
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for cols in (line.split() for line in lines):
            ports[cols[9]] = (int(cols[1].rsplit(":", 1)[1], 16), int(cols[2].rsplit(":", 1)[1], 16))
    return ports


def fd_kinds(pid: int) -> dict[str, int]:
    """The server's descriptors by kind: "tcp listen|in :<port>", "tcp out :<remote port>", pipe,
    anon_inode, another socket, or the file's name."""
    kinds: dict[str, int] = {}
    ports = _tcp_ports(pid)
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        inode = target[len("socket:["):-1] if target.startswith("socket:[") else None
        if inode in ports:
            local, remote = ports[inode]
            listening = {lp for lp, rp in ports.values() if rp == 0}
            kind = f"tcp listen :{local}" if remote == 0 else (f"tcp in :{local}" if local in listening
                                                                else f"tcp out :{remote}")
        else:
            kind = target.split(":")[0] if ":[" in target or target.startswith("anon_inode") else Path(target).name
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def reading(pid: int) -> Reading:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = {line.split(":")[0]: line.split(":", 1)[1].split() for line in status}
    children = sum(len(Path(f"/proc/{pid}/task/{t}/children").read_text().split())
                   for t in os.listdir(f"/proc/{pid}/task") if Path(f"/proc/{pid}/task/{t}/children").exists())
    return Reading(int(fields["Threads"][0]), len(os.listdir(f"/proc/{pid}/fd")),
                   round(int(fields["VmRSS"][0]) / 1024, 1), children)


def neonize_server(data_dir: Path, silent: SilentListener, store_env: dict, root: Path | None = None,
                   pairing_timeout: float = 4.0) -> ServerProcess:
    """The real backend; every dial goes to the silent listener on loopback. `store_env`: the
    MariaDB settings (the embedded SQLite store keeps a connection per thread that ever used it)."""
    server = ServerProcess(data_dir, {"WA_BACKEND": "neonize", "HTTPS_PROXY": silent.url, "HTTP_PROXY": silent.url,
                                      "PAIRING_TIMEOUT": str(pairing_timeout), "LOG_LEVEL": "WARNING", **store_env})
    if root is not None:
        server.root = root
    return server


def _in_background(server: ServerProcess, method: str, path: str, body=None) -> threading.Thread:
    """A request that waits for a pairing code (up to 15 s) runs beside the cycle."""
    thread = threading.Thread(target=lambda: server.request(method, path, body, timeout=60), daemon=True)
    thread.start()
    return thread


def _dialled(silent: SilentListener, before: int) -> None:
    if not silent.wait_accepted(before + 1, DIAL_WAIT):
        raise AssertionError(f"the server did not dial the listener (dials so far: {silent.accepted})")


def abandon_once(server: ServerProcess, silent: SilentListener, client_id: str, kind: str) -> None:
    """Create a client that pairs, let its attempt dial, then abandon it (the client is gone after)."""
    before = silent.accepted  # read before the request: the dial may come at once
    waiting = [_in_background(server, "POST", "/api/clients", {"clientId": client_id, "phone": PHONE})]
    _dialled(silent, before)
    if kind == "re-pair":
        before = silent.accepted
        waiting.append(_in_background(server, "POST", f"/api/clients/{client_id}/pair", {"phone": OTHER_PHONE}))
        _dialled(silent, before)
    elif kind == "timeout":
        server.wait_for(lambda: server.request("GET", f"/api/clients/{client_id}").json["state"] == "CLOSED", 30,
                        "pairing_timeout")
    resp = server.request("DELETE", f"/api/clients/{client_id}")
    if resp.status != 200:
        raise AssertionError(f"delete failed: {resp}")
    for thread in waiting:
        thread.join(60)
    silent.drop_closed()


def cycles(server: ServerProcess, silent: SilentListener, count: int, kinds=KINDS, prefix: str = "c") -> None:
    for n in range(count):
        abandon_once(server, silent, f"{prefix}{n}", kinds[n % len(kinds)])
