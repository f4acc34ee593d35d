"""GET /openapi.json: a valid OpenAPI 3.1 document of every route, built from the models that
validate the requests, with every error in the API's shape."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError

from tests.fake_registry import FakeRegistry
from wamulti.web import action_models, group_models, key_models, lookup_models, schemas, send_models
from wamulti.web.dashboard import dashboard_models
from wamulti.web.auth import ADMIN_ONLY, CLIENT_SCOPED
from wamulti.web.responses import COMMON, ERRORS
from wamulti.web.app import create_app
from wamulti.config import Settings
from wamulti.keys import ApiKeys
from wamulti.metrics.prometheus_metrics import Metrics

KEY = "test-key-0123456789abcdef"
NOT_IN_DOCUMENT = {"static", "docs.static", "docs.openapi_json", "docs.docs_page",
                   "dashboard_page.static", "dashboard_page.dashboard_page"}  # the dashboard's page and files


class NoEvents:
    """A stand-in events service: these tests only read the document, no route is called."""


class NoMedia:
    """A stand-in media library: these tests only read the document, no file is stored."""


class NoKeyStore:
    """A stand-in store for the scoped keys: these tests only read the document, no key is looked up."""


@pytest.fixture(scope="module")
def app():
    return create_app(Settings(api_key=KEY), FakeRegistry(store_kind="mysql"), NoEvents(), Metrics(),
                      ApiKeys(NoKeyStore()), NoMedia())


@pytest.fixture(scope="module")
def doc(app):
    resp = app.test_client().get("/openapi.json")
    assert resp.status_code == 200 and resp.content_type.startswith("application/json")
    return resp.get_json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_valid_openapi_31(doc):
    validate(doc)  # raises with the first problem
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"] == "wamulti"


def test_every_route_is_documented(app, doc):
    documented = {(m, p) for m, p, _ in operations(doc)}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_IN_DOCUMENT:
            continue
        path = re.sub(r"<(?:[^<:>]+:)?([^<>]+)>", r"{\1}", rule.rule)  # '<conv:name>' -> '{name}'
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, f"{method} {path} is not in /openapi.json"


def test_errors_have_the_contract_shape(doc):
    schemas_ = doc["components"]["schemas"]
    for method, path, operation in operations(doc):
        statuses = set(operation["responses"])
        if path.startswith("/api/") or path == "/metrics":
            assert operation["security"] and {str(s) for s in COMMON} <= statuses, (method, path)
        for status, answer in operation["responses"].items():
            if int(status) < 400 or path == "/healthz":
                continue
            ref = answer["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert ref == f"Error{status}"
            model = schemas_[ref]
            # error and message always; an extra member only where its ERRORS line declares it
            assert {"error", "message"} <= set(model["required"]) <= {"error", "message", *ERRORS[int(status)].extra}
            error = model["properties"]["error"]
            assert error.get("enum", [error.get("const")]) == list(ERRORS[int(status)].codes)
            assert answer["content"]["application/json"]["example"]["error"] in ERRORS[int(status)].codes
    assert doc["paths"]["/api/messages/send"]["post"]["responses"]["503"]["headers"]["Retry-After"]
    assert doc["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}


def test_body_examples_pass_the_validating_models(doc):
    """The examples in the document are checked by the same models the routes validate with."""
    models = {"CreateClient": schemas.CreateClient, "PairClient": schemas.PairClient,
              "SendMessage": send_models.SendMessage, "PutWebhook": schemas.PutWebhook, "Replay": schemas.Replay,
              "CreateKey": key_models.CreateKey, "SendPresence": lookup_models.SendPresence,
              "CheckNumbers": lookup_models.CheckNumbers, "CreateGroup": group_models.CreateGroup,
              "ChangeParticipants": group_models.ChangeParticipants, "UpdateGroup": group_models.UpdateGroup,
              "JoinGroup": group_models.JoinGroup,
              "ReactMessage": action_models.ReactMessage,
              "EditMessage": action_models.EditMessage, "RevokeMessage": action_models.RevokeMessage,
              "ReadMessages": action_models.ReadMessages, "SignIn": dashboard_models.SignIn}
    seen = set()
    for _, _, operation in operations(doc):
        body = operation.get("requestBody")
        if body and "application/json" not in body["content"]:  # a file upload: raw bytes or multipart
            assert set(body["content"]) == {"application/octet-stream", "multipart/form-data"}
        elif body:
            name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            models[name].model_validate(body["content"]["application/json"]["example"])
            seen.add(name)
            assert body["required"] is not issubclass(models[name], schemas.OptionalBody)
    assert seen == set(models)
    with pytest.raises(ValidationError):
        send_models.SendMessage.model_validate({"clientId": "a", "to": "+49 151 2345678", "text": " "})


def test_client_id_rules_are_in_the_document(doc):
    client_id = doc["components"]["schemas"]["CreateClient"]["properties"]["clientId"]
    assert client_id["maxLength"] == 64 and client_id["pattern"] == schemas.CLIENT_ID_PATTERN
    with pytest.raises(ValidationError):
        schemas.CreateClient.model_validate({"clientId": "x" * 65})


def test_docs_and_document_need_no_key(app):
    client = app.test_client()
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/api/clients").status_code == 401


def test_every_operation_behind_a_key_says_which_keys_it_takes(doc):
    policies = {}
    for method, path, operation in operations(doc):
        if path.startswith("/api/") or path == "/metrics":
            policy = policies[(method, path)] = operation.get("x-wamulti-keys")
            assert policy in (ADMIN_ONLY, CLIENT_SCOPED), (method, path)
            assert operation["security"] == [{"apiKey": []}, {"bearer": []}], (method, path)
            assert "Key: " in operation["description"], (method, path)
            # a scoped key is refused (403) exactly where only the admin key is taken
            assert ("403" in operation["responses"]) is (policy == ADMIN_ONLY), (method, path)
        else:
            assert "x-wamulti-keys" not in operation and not operation.get("security"), (method, path)
    assert policies[("POST", "/api/keys")] == policies[("DELETE", "/api/clients/{client_id}")] == ADMIN_ONLY
    assert policies[("GET", "/metrics")] == ADMIN_ONLY
    assert policies[("POST", "/api/messages/send")] == policies[("GET", "/api/events")] == CLIENT_SCOPED
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


OPERATION_IDS = {
    ("POST", "/api/clients/{client_id}/presence"): "sendPresence",
    ("POST", "/api/clients/{client_id}/check"): "checkNumbers",
    ("GET", "/api/clients/{client_id}/contacts"): "listContacts",
    ("GET", "/api/clients/{client_id}/picture"): "getProfilePicture",
    ("GET", "/api/clients/{client_id}/profile"): "getOwnProfile",
    ("POST", "/api/clients"): "createClient",
    ("GET", "/api/clients"): "listClients",
    ("GET", "/api/clients/{client_id}"): "getClient",
    ("POST", "/api/clients/{client_id}/pair"): "pairClient",
    ("GET", "/api/clients/{client_id}/qr"): "getClientQr",
    ("DELETE", "/api/clients/{client_id}"): "deleteClient",
    ("POST", "/api/messages/send"): "sendMessage",
    ("GET", "/api/messages/{message_id}"): "getMessageStatus",
    ("POST", "/api/media/{media_id}/retry"): "retryMediaDownload",
    ("POST", "/api/messages/react"): "reactToMessage",
    ("POST", "/api/messages/edit"): "editMessage",
    ("POST", "/api/messages/revoke"): "revokeMessage",
    ("POST", "/api/messages/read"): "markMessagesRead",
    ("GET", "/api/events"): "listEvents",
    ("POST", "/api/events/{event_id}/redeliver"): "redeliverEvent",
    ("PUT", "/api/clients/{client_id}/webhook"): "putWebhook",
    ("GET", "/api/clients/{client_id}/webhook"): "getWebhook",
    ("DELETE", "/api/clients/{client_id}/webhook"): "deleteWebhook",
    ("POST", "/api/clients/{client_id}/webhook/replay"): "replayEvents",
    ("POST", "/api/keys"): "createApiKey",
    ("GET", "/api/keys"): "listApiKeys",
    ("DELETE", "/api/keys/{key_id}"): "revokeApiKey",
    ("GET", "/healthz"): "getHealth",
    ("GET", "/api/instances"): "listInstances",
    ("GET", "/metrics"): "getMetrics",
    ("POST", "/dashboard/session"): "signIn",
    ("GET", "/dashboard/session"): "getSession",
    ("DELETE", "/dashboard/session"): "signOut",
    ("GET", "/api/dashboard"): "getDashboard",
    ("GET", "/api/clients/{client_id}/groups"): "listGroups",
    ("POST", "/api/clients/{client_id}/groups"): "createGroup",
    ("POST", "/api/clients/{client_id}/groups/join"): "joinGroup",
    ("GET", "/api/clients/{client_id}/groups/{group_jid}"): "getGroup",
    ("PATCH", "/api/clients/{client_id}/groups/{group_jid}"): "updateGroup",
    ("POST", "/api/clients/{client_id}/groups/{group_jid}/participants"): "changeGroupParticipants",
    ("GET", "/api/clients/{client_id}/groups/{group_jid}/invite"): "getGroupInvite",
    ("DELETE", "/api/clients/{client_id}/groups/{group_jid}/invite"): "resetGroupInvite",
    ("POST", "/api/clients/{client_id}/groups/{group_jid}/leave"): "leaveGroup",
    ("POST", "/api/media"): "uploadMedia",
    ("GET", "/api/media/{media_id}"): "getMedia",
    ("GET", "/api/media/{media_id}/info"): "getMediaInfo",
    ("GET", "/media/{media_id}"): "getMediaByLink",
}


def test_every_operation_has_a_deliberate_camel_case_id(doc):
    """A client generated from the document gets names a person chose, not ones made from the path."""
    ids = {(method, path): operation.get("operationId") for method, path, operation in operations(doc)}
    assert all(op_id and re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", op_id) for op_id in ids.values()), ids
    assert len(set(ids.values())) == len(ids), "operationIds must be unique"
    assert ids == OPERATION_IDS


def test_the_webhooks_section_has_every_event_type_and_real_data_fits_it(doc):
    """Each type a webhook can receive is in `webhooks`; the data the service makes validates against its model."""
    from datetime import datetime, timezone

    from wamulti.backends import conversation_api as cv
    from wamulti.hearing.conversation_events import conversation_event
    from wamulti.hearing.event_model import EventType
    from wamulti.web.event_webhooks import DATA

    assert set(doc["webhooks"]) == {t.value for t in EventType}
    for name, item in doc["webhooks"].items():
        ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert doc["components"]["schemas"][ref]["properties"]["type"]["const"] == name
    assert "Opt-in" in doc["webhooks"]["presence"]["post"]["description"]
    now = datetime.now(timezone.utc)
    who = dict(chat="1@lid", sender_jid="1@lid", sender_phone=None, from_me=False)
    for event in (cv.MessageReacted(message_id="R", emoji="", target_id="T", target_from_me=True, at=now, **who),
                  cv.MessageEdited(target_id="T", text="new", at=now, **who),
                  cv.MessageRevoked(target_id="T", at=now, **who),
                  cv.PresenceSeen("1@lid", None, "composing", chat="1@lid"),
                  cv.CallOffered("C", "1@lid", None, True, now)):
        type_, data = conversation_event(event)
        assert DATA[type_].model_validate(data).model_dump(by_alias=True) == data


def test_the_group_events_are_webhooks_whose_data_the_publishers_fill(doc):
    from wamulti.groups import group_events
    from wamulti.groups.group_book import GroupSummary
    from wamulti.web.event_webhooks import DATA

    assert {"group.joined", "group.left", "group.participants", "group.updated"} <= set(doc["webhooks"])
    group, ana = "120363012345678901@g.us", "4915123456789@s.whatsapp.net"
    made = {"group.joined": group_events.joined_data(GroupSummary(group, "T", 2, False, True, "member"), "added", ana),
            "group.left": group_events.left_data(group, "removed", ana),
            "group.participants": group_events.participants_data(group, "promoted", (ana,), None),
            "group.updated": group_events.updated_data(group, ana, {"subject": "New", "announce": True})}
    for event_type, data in made.items():
        assert DATA[event_type].model_validate(data).model_dump(exclude_unset=True) == data
