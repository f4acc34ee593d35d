"""Groups at scale: one READY simulator client in 300 groups of 50-1,000 members, through the API, in one run.

    python -m bench.groups     # targets: list groups p99 < 50 ms (from the cache), 0 group-metadata
                               # calls per group send after the first load

The groups are built through the API itself (POST .../groups with the first 255 members, then
POST .../participants in chunks of 256; members are numbers no simulator client holds: on WhatsApp,
reaching no one). Then, on one keep-alive connection each: one forced refresh (`?refresh=true`: the
one joined_groups call, timed), LISTS x GET .../groups, INFOS x GET .../groups/<jid> (round robin,
the largest groups included), and SENDS group texts by CALLERS callers (`wait: true`, so each answer
is a completed send) to random groups. Group-metadata calls are read from GET /metrics
(`wamulti_group_metadata_calls_total`) before and after the sends. Store: embedded SQLite;
SIM_SEND_DELAY=0 (the simulator answers at once: what is measured is wamulti's own path).
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import ServerProcess, report
from tests.server_process import API_KEY

GROUPS, SMALLEST, LARGEST = 300, 50, 1000
LISTS, INFOS, SENDS, CALLERS = 1000, 600, 1000, 8
CHUNK = 256  # participants per request (the API's limit)
ENV = {"SIM_PAIR_DELAY": "0.05", "SIM_SEND_DELAY": "0", "SEND_RATE_PER_MINUTE": "0", "LOG_LEVEL": "WARNING"}


class Api:
    """One keep-alive connection to the server."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body=None) -> tuple[int, dict | str, float]:
        headers = {"x-api-key": API_KEY}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        started = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        took = time.perf_counter() - started
        kind = resp.getheader("Content-Type", "")
        return resp.status, json.loads(raw) if kind.startswith("application/json") else raw.decode(), took


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def build_groups(api: Api) -> list[tuple[str, int]]:
    """GROUPS groups of SMALLEST..LARGEST members (this client included); (id, size) each."""
    made, number = [], 491600000000
    for i in range(GROUPS):
        size = SMALLEST + round(i * (LARGEST - SMALLEST) / (GROUPS - 1))
        members = [f"+{number + k}" for k in range(size - 1)]
        number += size
        status, group, _ = api.call("POST", "/api/clients/bench/groups",
                                    {"subject": f"Group {i:03d}", "participants": members[:CHUNK - 1]})
        assert status == 201, group
        for start in range(CHUNK - 1, len(members), CHUNK):
            status, answer, _ = api.call("POST", f"/api/clients/bench/groups/{group['id']}/participants",
                                         {"action": "add", "participants": members[start:start + CHUNK]})
            assert status == 200 and all(r["result"] == "added" for r in answer["results"]), answer
        made.append((group["id"], size))
    return made


def metadata_calls(api: Api) -> int:
    _, text, _ = api.call("GET", "/metrics")
    line = next(l for l in text.splitlines() if l.startswith('wamulti_group_metadata_calls_total{client="bench"}'))
    return int(float(line.split()[-1]))


def timed_reads(api: Api, paths: list[str]) -> list[float]:
    took = []
    for path in paths:
        status, _, seconds = api.call("GET", path)
        assert status == 200, (path, status)
        took.append(seconds)
    return took


def send_all(port: int, groups: list[str]) -> tuple[float, float, list[float]]:
    """SENDS group texts by CALLERS callers, each waiting for its send (a 202 when the server's waiting slots
    are taken: polled until sent); (seconds until all were accepted, until all were sent, each answer's seconds)."""
    rng = random.Random(7)
    plan = [(rng.choice(groups), f"group text {i}") for i in range(SENDS)]
    took: list[float] = []
    queued: list[str] = []
    lock = threading.Lock()

    def caller(share):
        api = Api(port)
        for to, text in share:
            body = {"clientId": "bench", "to": to, "text": text}
            status, answer, seconds = api.call("POST", "/api/messages/send", body)
            assert status in (200, 202), answer
            with lock:
                took.append(seconds)
                if status == 202:
                    queued.append(answer["messageId"])

    threads = [threading.Thread(target=caller, args=(plan[i::CALLERS],)) for i in range(CALLERS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = time.perf_counter() - started
    api = Api(port)
    for message_id in queued:
        while (status := api.call("GET", f"/api/messages/{message_id}")[1]["status"]) in ("queued", "sending"):
            time.sleep(0.01)
        assert status != "failed", message_id
    return accepted, time.perf_counter() - started, took


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", ENV).start()
        try:
            run(server)
        finally:
            server.close()


def run(server: ServerProcess) -> None:
    api = Api(server.port)
    assert api.call("POST", "/api/clients", {"clientId": "bench", "phone": "+49 151 0000 0001"})[0] == 201
    server.wait_all_ready(1, timeout=30)
    started = time.perf_counter()
    groups = build_groups(api)
    built = time.perf_counter() - started
    status, listed, refresh = api.call("GET", "/api/clients/bench/groups?refresh=true")
    assert status == 200 and len(listed["groups"]) == GROUPS, listed
    lists = timed_reads(api, ["/api/clients/bench/groups"] * LISTS)
    by_size = [g for g, _ in sorted(groups, key=lambda g: -g[1])]
    infos = timed_reads(api, [f"/api/clients/bench/groups/{by_size[i % 30]}" for i in range(INFOS)])
    before = metadata_calls(api)
    accepted, wall, sends = send_all(server.port, [g for g, _ in groups])
    after = metadata_calls(api)
    members = sum(size for _, size in groups)
    rows = [{"what": f"list {GROUPS} groups (cache)", "n": LISTS, "p50_ms": ms(statistics.median(lists)),
             "p99_ms": ms(percentile(lists, 0.99)), "max_ms": ms(max(lists))},
            {"what": "group info (30 largest, 900-1,000 members)", "n": INFOS, "p50_ms": ms(statistics.median(infos)),
             "p99_ms": ms(percentile(infos, 0.99)), "max_ms": ms(max(infos))},
            {"what": f"group send answer, {CALLERS} callers", "n": SENDS, "p50_ms": ms(statistics.median(sends)),
             "p99_ms": ms(percentile(sends, 0.99)), "max_ms": ms(max(sends))}]
    report("groups", rows, {
        "groups": GROUPS, "members": members, "build_seconds": round(built, 1),
        "forced_refresh_ms (one joined_groups call)": ms(refresh),
        "group_sends_accepted_per_s": round(SENDS / accepted, 1),
        "group_sends_completed_per_s (all sent)": round(SENDS / wall, 1),
        "metadata_calls_before_sends (load after connect + forced refresh)": before,
        "metadata_calls_during_sends": after - before,
        "metadata_calls_per_send": round((after - before) / SENDS, 3),
    })


if __name__ == "__main__":
    main()
