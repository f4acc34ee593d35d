"""Schemathesis against the real server (simulator backend, real MariaDB), bounded in time.

Every operation of /openapi.json gets generated requests, valid (positive) and invalid
(negative); each answer must not be a 5xx and must conform to the document (status, headers,
body schema, content type). What each operation answered is printed, and the statuses a route
documents but the run did not reach must be among EXPLAINED. A second, shorter run does the same
with a scoped key (made for a client of its own): 403 on the admin-only routes, 404 for others'.
"""

from __future__ import annotations

import collections
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

import schemathesis
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as oas
from tests.server_process import API_KEY, ServerProcess

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25  # per operation and mode
# seconds per operation in the document (the run's budget grows with the API); operations past two
# thirds of the budget get FEW_EXAMPLES each, so the run ends within twice its budget
SECONDS_PER_OPERATION = 1.6
SCOPED_EXAMPLES, SCOPED_SECONDS = 10, 0.8  # the scoped key's run
FEW_EXAMPLES = 3
CLIENT = "fuzz-ready"
SCOPED_CLIENT = "fuzz-scoped"
CONFORMANCE = [schemathesis.checks.not_a_server_error, oas.response_schema_conformance, oas.status_code_conformance,
               oas.content_type_conformance, oas.response_headers_conformance]
# Negative cases must also be refused (4xx): what the document calls invalid, the code must too.
CHECKS = {GenerationMode.POSITIVE: CONFORMANCE, GenerationMode.NEGATIVE: [*CONFORMANCE, oas.negative_data_rejection]}
# Documented statuses a bounded fuzz run cannot provoke on purpose, and why they are documented.
EXPLAINED = {
    "500": "a bug; documented on every route, never expected",
    "502": "WhatsApp refused a send: the simulator only fails sends when told to (SIM_FAIL_SENDS)",
    "422": "a number with no account: the simulator has none unless SIM_NOT_ON_WHATSAPP lists it (test_sending.py)",
    "202": "a send accepted into the queue needs a READY client and a valid recipient: test_e2e_queue.py",
    "429": "a full outbound queue (SEND_QUEUE_MAX): test_e2e_queue.py fills one",
    "503": "store unreachable or client not READY: test_api.py and test_drills.py provoke those",
    "403": "a scoped key on an admin-only route: the scoped run below and test_keys_scope.py",
    "409": "a state conflict needs a sequence of calls (create twice, pair a READY client): test_api.py",
    "413": "a body over MAX_BODY_BYTES: test_drill_bad_requests.py sends those",
    "415": "a body of another media type: test_api.py and test_drill_bad_requests.py send those",
    "404": "an unknown id is only likely for some routes: test_api.py covers each",
    "201": "a fresh clientId: generated ids mostly collide with the first created or are refused",
    "200": "a route whose success needs state the fuzzer does not set up (a pending QR, a webhook, an event, a "
           "stored file's id or a signed link, the right key in a sign-in body)",
    "304": "GET /api/dashboard with the ETag it answered: test_dashboard_session.py",
    "410": "a signed link to a file never stored: test_media_api.py",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory, mariadb):
    env = {**mariadb.env(mariadb.new_database()), "SIM_PAIR_DELAY": "0.1"}
    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", env).start()
    assert server.request("POST", "/api/clients", {"clientId": CLIENT, "phone": "+4915123456789"}).status == 201
    server.wait_all_ready(1)
    yield server
    server.close()


def run_operation(operation, session, base_url: str, mode, examples: int, seen: dict, problems: list,
                  key: str | None = API_KEY) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        case.headers = {**(case.headers or {}), **({"x-api-key": key} if key else {})}
        response = case.call(base_url=base_url, session=session, timeout=30)
        seen[operation.label][str(response.status_code)] += 1
        if response.status_code >= 500:
            problems.append(f"{operation.label}: {response.status_code} {response.text[:200]}")
        try:
            case.validate_response(response, checks=CHECKS[mode])
        except AssertionError as exc:  # schemathesis' FailureGroup is an AssertionError
            problems.append(f"{operation.label} ({mode.value}): {str(exc)[:600]}")
    try:
        fuzz()
    except Unsatisfiable:
        pass  # e.g. no negative input exists for a route without parameters


def fuzz_every_operation(server, key: str, seconds_each: float, examples: int):
    """Both modes on every operation with `key` (and a few without one): (operations, seen, problems, seconds,
    budget)."""
    base_url = f"http://127.0.0.1:{server.port}"
    schema = schemathesis.openapi.from_dict(server.request("GET", "/openapi.json", key=None).json)
    session = requests.Session()
    session.trust_env = False  # loopback directly: scripts/test points HTTP(S)_PROXY at a closed port
    operations = [result.ok() for result in schema.get_all_operations()]
    seen: dict = collections.defaultdict(collections.Counter)
    problems: list[str] = []
    budget = seconds_each * len(operations)
    started = time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            left = budget - (time.monotonic() - started)
            run_operation(operation, session, base_url, mode, examples if left > budget / 3 else FEW_EXAMPLES, seen, problems,
                          key)
        if operation.path != "/healthz":  # and without the key: 401 in the documented shape
            run_operation(operation, session, base_url, GenerationMode.POSITIVE, 2, seen, problems, key=None)
    return operations, seen, problems, time.monotonic() - started, budget


def test_every_operation_conforms(server):
    operations, seen, problems, elapsed, budget = fuzz_every_operation(server, API_KEY, SECONDS_PER_OPERATION,
                                                                       MAX_EXAMPLES)
    print(f"\nschemathesis: {sum(sum(c.values()) for c in seen.values())} requests in {elapsed:.1f}s")
    unexplained = []
    for operation in operations:
        documented = set(operation.definition.raw.get("responses", {}))
        reached = seen[operation.label]
        missing = sorted(documented - set(reached))
        print(f"  {operation.label}: {dict(sorted(reached.items()))}; not reached: {missing}")
        unexplained += [f"{operation.label} {status}" for status in missing if status not in EXPLAINED]
    assert problems == [], "\n".join(problems[:20])
    assert unexplained == []
    assert elapsed < budget * 2
    assert server.request("GET", "/healthz", key=None).status == 200


def test_every_operation_conforms_with_a_scoped_key(server):
    assert server.request("POST", "/api/clients", {"clientId": SCOPED_CLIENT, "phone": "+4915123456780"}).status == 201
    made = server.request("POST", "/api/keys", {"clients": [SCOPED_CLIENT], "label": "fuzz"})
    assert made.status == 201, made
    operations, seen, problems, elapsed, budget = fuzz_every_operation(server, made.json["key"], SCOPED_SECONDS,
                                                                       SCOPED_EXAMPLES)
    print(f"\nschemathesis, scoped key: {sum(sum(c.values()) for c in seen.values())} requests in {elapsed:.1f}s")
    for operation in operations:
        print(f"  {operation.label}: {dict(sorted(seen[operation.label].items()))}")
    assert problems == [], "\n".join(problems[:20])
    admin_only = [op.label for op in operations if op.definition.raw.get("x-wamulti-keys") == "admin"]
    assert admin_only and all(set(seen[label]) <= {"403", "401", "400", "413", "415", "503"} for label in admin_only)
    assert elapsed < budget * 2
    clients = server.request("GET", "/api/clients", key=made.json["key"]).json
    assert [c["clientId"] for c in clients] == [SCOPED_CLIENT]
