"""CLUSTER=on: a request for a client another instance runs is forwarded to that instance.

Commands that need the client's connection (pair, QR, delete, groups, presence, number checks,
contacts, pictures, profile, webhooks of a client, reactions/edits/revokes/read marks) go to the
owner over loopback or LAN HTTP, with the caller's own key, and its answer goes back as it is: one
hop (a forwarded request is answered where it arrives, never forwarded again), within the owner's
own timeouts. Why forwarding and not a command table the owner polls: the answer (a pairing code,
a group's metadata, an unlink's outcome) comes back in the same request with no added polling
delay, nothing new is stored, and the owner's routes, validation and key policy apply unchanged.
Sends are not forwarded: any instance accepts them into the durable queue (sending/elsewhere_queue.py).
With no live owner (during a failover), GET /api/clients/<id> answers from the store and every
other command answers 503 `no_owner`.
"""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from ..errors import NoOwner

FORWARDED = "X-Wamulti-Forwarded"  # the instance id that forwarded the request
CLUSTER_EXTENSION = "wamulti.cluster"
FORWARD_TIMEOUT = 60.0  # the owner's own bounds are shorter (pairing code 15 s, SEND_WAIT, unlink)
_CLIENT_PATH = re.compile(r"^/api/clients/(?P<client_id>[^/]+)(?P<rest>/.*)?$")
_ACTION_PATHS = ("/api/messages/react", "/api/messages/edit", "/api/messages/revoke", "/api/messages/read")
_PASSED_HEADERS = ("x-api-key", "Authorization", "Content-Type", "Idempotency-Key", "Prefer", "Accept")
_ANSWER_HEADERS = ("Content-Type", "Location", "Retry-After")


def init_forwarding(app: Flask, cluster) -> None:
    """After the key check (registered after auth.init_app): forward what the owner must answer.
    `cluster`: the ClusterNode (locate, instance_id)."""
    app.extensions[CLUSTER_EXTENSION] = cluster
    app.before_request(_forward_if_elsewhere)


def _client_of_request() -> str | None:
    found = _CLIENT_PATH.match(request.path)
    if found:
        return found["client_id"]
    if request.method == "POST" and request.path in _ACTION_PATHS:
        body = request.get_json(silent=True)
        client_id = body.get("clientId") if isinstance(body, dict) else None
        return client_id if isinstance(client_id, str) else None
    return None


def _forward_if_elsewhere():
    cluster = current_app.extensions[CLUSTER_EXTENSION]
    if request.headers.get(FORWARDED) or not request.path.startswith("/api/"):
        return None
    client_id = _client_of_request()
    if client_id is None:
        return None
    where = cluster.locate(client_id)
    if where is cluster.HERE:
        return None
    if where is None:
        if request.method == "GET" and _CLIENT_PATH.match(request.path)["rest"] is None:
            return None  # the client's row, from the store (instance: null)
        raise NoOwner(f"No instance runs client '{client_id}' right now (a failover is under way); try again "
                      "in a few seconds.")
    return _forward(where.address, cluster.instance_id)


def _forward(address: str, instance_id: str):
    target = urlsplit(address)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=FORWARD_TIMEOUT)
    headers = {name: request.headers[name] for name in _PASSED_HEADERS if name in request.headers}
    headers[FORWARDED] = instance_id
    path = request.full_path if request.query_string else request.path
    try:
        conn.request(request.method, path, body=request.get_data() or None, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
    except OSError:
        raise NoOwner("The instance running this client did not answer; try again in a few seconds.") from None
    finally:
        conn.close()
    response = current_app.response_class(body, status=answer.status)
    for name in _ANSWER_HEADERS:
        if answer.getheader(name):
            response.headers[name] = answer.getheader(name)
    return response
