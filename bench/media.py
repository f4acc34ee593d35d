"""Media through the simulator network, in one run, on a real server process (SQLite, loopback):

    python -m bench.media      # targets: RSS peak above idle while 20 x 40 MB arrive at once
                               # < 4 x MEDIA_MAX_MB (256 MB at the default 64); 1 upload for a
                               # broadcast of one stored image to 500 recipients

1. Incoming media A -> B: alice uploads distinct random files (not timed), then sends them all as
   documents at once (`wait: false`); timed from the first send to bob's last `message.media`
   `stored` at a loopback webhook receiver: MB/s stored (alice's upload to the simulator's CDN,
   bob's download, sha256, sniffing and the move into the media store, all in that time).
   1 MB x 50, 40 MB x 1, then 40 MB x 20 at once, during which the server's RSS is sampled every
   20 ms and its VmHWM read (reset first through /proc/<pid>/clear_refs): peak above the idle level
   measured just before.
2. One stored image (a JPEG of noise, ~0.85 MB) sent to 500 recipients by 8 callers with `wait: false`:
   accepted/s (first accept to last), done/s (to the last `server` state), and uploads counted
   (the files in the simulator CDN's directory, the server's TMPDIR).
The machine is shared: the load average is recorded at the start and the end.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import ROOT, ServerProcess, report, rss_mb
from tests.webhook_receiver import Receiver
from wamulti.hearing.event_fields import new_secret

MAX_MB = 64
MB = 1 << 20
ALICE, BOB = "+49 151 0000 0001", "+49 151 0000 0002"
ENV = {"LOG_LEVEL": "WARNING", "SIM_READ_DELAY": "1", "MEDIA_MAX_MB": str(MAX_MB), "WEBHOOK_EVENTS": "message.media",
       "WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


class Bench:
    """The server with alice and bob READY, a receiver of bob's `message.media`, the CDN's directory."""

    def __init__(self, work: Path):
        self.work = work
        self.receiver = Receiver(new_secret())
        (work / "tmp").mkdir()
        self.server = ServerProcess(work / "data", {**ENV, "WEBHOOK_URL": self.receiver.url("/hook"),
                                                    "WEBHOOK_SECRET": self.receiver.secret, "TMPDIR": str(work / "tmp")})
        self.server.env["PUBLIC_URL"] = f"http://127.0.0.1:{self.server.port}"
        self.server.start()
        for client_id, phone in (("alice", ALICE), ("bob", BOB)):
            assert self.server.request("POST", "/api/clients", {"clientId": client_id, "phone": phone}).status == 201
        self.server.wait_all_ready(2)
        self.pid = self.server.proc.pid

    def close(self) -> None:
        self.server.close()
        self.receiver.close()

    def upload(self, data: bytes, name: str) -> str:
        resp = self.server.request("POST", f"/api/media?fileName={name}&clientId=alice", data, timeout=300)
        assert resp.status == 201, resp
        return resp.json["mediaId"]

    def send(self, media_id: str, kind: str, to: str = BOB) -> str:
        resp = self.server.request("POST", "/api/messages/send", {
            "clientId": "alice", "to": to, "media": {"id": media_id, "kind": kind}, "wait": False})
        assert resp.status == 202, resp
        return resp.json["messageId"]

    def stored(self) -> int:
        """bob's downloads that ended `stored` so far (each reported once)."""
        return len({h.event["data"]["media"]["id"] for h in self.receiver.attempts("bob")
                    if h.event.get("type") == "message.media" and h.event["data"]["media"]["status"] == "stored"})

    def not_stored(self) -> list[dict]:
        return [h.event["data"]["media"] for h in self.receiver.attempts("bob")
                if h.event.get("type") == "message.media" and h.event["data"]["media"]["status"] != "stored"]

    def cdn_uploads(self) -> int:
        return len(list((self.work / "tmp").glob("wamulti-sim-cdn-*/*")))


class RssSampler:
    """Samples a process's RSS every `every` seconds in a thread until stopped; the peak in MB."""

    def __init__(self, pid: int, every: float = 0.02):
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(self.every)


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def incoming(bench: Bench, size_mb: int, files: int) -> dict:
    """`files` distinct random files of `size_mb` from alice to bob at once; the row of figures."""
    ids = [bench.upload(os.urandom(size_mb * MB), f"f{size_mb}-{n}.bin") for n in range(files)]
    before = bench.stored()
    time.sleep(1.0)  # the uploads' garbage settles before the idle reading
    idle = rss_mb(bench.pid)
    Path(f"/proc/{bench.pid}/clear_refs").write_text("5")  # VmHWM := the RSS now
    started = time.monotonic()
    with RssSampler(bench.pid) as sampler:
        for media_id in ids:
            bench.send(media_id, "document")
        bench.receiver.wait_for(lambda: bench.stored() > before, timeout=900, what="the first stored")
        first = time.monotonic() - started
        bench.receiver.wait_for(lambda: bench.stored() - before >= files or bench.not_stored(), timeout=900,
                                what=f"{files} x {size_mb} MB stored")
    seconds = time.monotonic() - started
    assert not bench.not_stored(), bench.not_stored()
    return {"size_mb": size_mb, "files": files, "seconds": round(seconds, 2), "first_stored_s": round(first, 2),
            "mb_per_s_stored": round(size_mb * files / seconds, 1), "rss_idle_mb": round(idle, 1),
            "rss_peak_above_idle_mb": round(sampler.peak - idle, 1),
            "vm_hwm_above_idle_mb": round(vm_hwm_mb(bench.pid) - idle, 1),
            "load_1min": round(os.getloadavg()[0], 1)}


def jpeg(size_bytes: int = 1_500_000) -> bytes:  # noise compresses to ~0.85 MB at this size
    """A JPEG of noise about `size_bytes` large."""
    from PIL import Image
    side = int((size_bytes / 1.6) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "JPEG", quality=90)
    return out.getvalue()


def broadcast(bench: Bench, recipients: int = 500, callers: int = 8) -> dict:
    """One stored image to `recipients` chats by `callers` threads; accepted/s, done/s and uploads."""
    image = jpeg()
    media_id = bench.upload(image, "photo.jpg")
    uploads_before = bench.cdn_uploads()
    numbers = [f"+4915300{n:06d}" for n in range(recipients)]
    started = time.monotonic()
    with ThreadPoolExecutor(callers) as pool:
        accepted = list(pool.map(lambda to: bench.send(media_id, "image", to), numbers))
    accept_seconds = time.monotonic() - started
    states = lambda: [bench.server.request("GET", f"/api/messages/{i}").json["status"] for i in accepted]  # noqa: E731
    bench.server.wait_for(lambda: all(s not in ("queued", "sending") for s in states()), 600, "sends done", poll=0.5)
    done_seconds = time.monotonic() - started
    final = states()
    return {"recipients": recipients, "image_bytes": len(image), "accepted_per_s": round(recipients / accept_seconds, 1),
            "done_per_s": round(recipients / done_seconds, 1), "sent": final.count("server") + final.count("delivered"),
            "uploads": bench.cdn_uploads() - uploads_before}


def main() -> None:
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    bench = Bench(work)
    try:
        rows = [incoming(bench, 1, 50), incoming(bench, 40, 1), incoming(bench, 40, 20)]
        sends = broadcast(bench)
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    burst = rows[-1]
    report("media", rows, {
        "broadcast": sends,
        "target_rss_peak_mb": 4 * MAX_MB, "media_max_mb": MAX_MB, "download_concurrency": 2,
        "rss_target_met": max(burst["rss_peak_above_idle_mb"], burst["vm_hwm_above_idle_mb"]) < 4 * MAX_MB,
        "upload_target_met": sends["uploads"] == 1,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(), "machine": "shared (other helpers' tests run at the same time)",
        "tree": str(ROOT)})


if __name__ == "__main__":
    main()
