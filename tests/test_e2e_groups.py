"""End to end: the group routes through `python wsgi.py` on the simulator's loopback network (its groups,
sim_groups.py), the embedded store, and the group events at a real signed webhook receiver on 127.0.0.1.

alice, bob and carol are READY clients; bob and carol never call a group route before they are asked
about a group, so what their lists show came from the group events WhatsApp (the simulator) told them.
"""

from __future__ import annotations

import pytest

from tests.server_process import ServerProcess
from tests.test_e2e_hearing import hits_of
from tests.webhook_receiver import Receiver
from wamulti.hearing.event_fields import new_secret

PHONES = {"alice": "+49 151 0000 0001", "bob": "+49 151 0000 0002", "carol": "+49 151 0000 0003",
          "dave": "+49 151 0000 0004"}
JIDS = {name: f"{phone.replace(' ', '')[1:]}@s.whatsapp.net" for name, phone in PHONES.items()}
NOT_ON_WHATSAPP = "+49 151 0000 0999"


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver(new_secret())
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    data_dir = tmp_path_factory.mktemp("groups") / "data"
    server = ServerProcess(data_dir, {"SIM_PAIR_DELAY": "0.2", "SIM_READ_DELAY": "0.2",
                                      "SIM_NOT_ON_WHATSAPP": NOT_ON_WHATSAPP, "WEBHOOK_URL": receiver.url("/hook"),
                                      "WEBHOOK_SECRET": receiver.secret}).start()
    for client_id, phone in PHONES.items():
        assert server.request("POST", "/api/clients", {"clientId": client_id, "phone": phone}).status == 201
    server.wait_all_ready(len(PHONES), timeout=30)
    yield server
    server.close()


def call(server, method, client_id, tail="", body=None, **kw):
    return server.request(method, f"/api/clients/{client_id}/groups{tail}", body, **kw)


def listed(server, client_id, group_id):
    resp = call(server, "GET", client_id)
    assert resp.status == 200, resp
    return next((g for g in resp.json["groups"] if g["id"] == group_id), None)


def heard(receiver, client_id, type_, group_id):
    return [e["data"] for e in hits_of(receiver, client_id, type_) if e["data"]["group"] == group_id]


def wait_heard(receiver, client_id, type_, group_id, count=1):
    return receiver.wait_for(lambda: (lambda found: found if len(found) >= count else None)(
        heard(receiver, client_id, type_, group_id)), what=f"{client_id}'s {type_}")


@pytest.fixture(scope="module")
def group(server, receiver):
    """alice's group with bob in it."""
    resp = call(server, "POST", "alice", body={"subject": "Team Berlin", "participants": [PHONES["bob"]]})
    assert resp.status == 201, resp
    assert resp.headers["location"] == f"/api/clients/alice/groups/{resp.json['id']}"
    wait_heard(receiver, "bob", "group.joined", resp.json["id"])
    return resp.json


def test_create_answers_the_group_with_members_and_roles(group):
    assert group["subject"] == "Team Berlin" and group["myRole"] == "superadmin" and group["size"] == 2
    assert {(p["jid"], p["role"]) for p in group["participants"]} == {(JIDS["alice"], "superadmin"),
                                                                      (JIDS["bob"], "member")}
    assert group["id"].endswith("@g.us") and group["createdAt"].endswith("Z")


def test_the_added_member_hears_group_joined_and_lists_the_group_from_its_cache(server, receiver, group):
    [joined] = heard(receiver, "bob", "group.joined", group["id"])
    assert joined == {"group": group["id"], "subject": "Team Berlin", "size": 2, "announce": False, "locked": False,
                      "myRole": "member", "reason": "added", "by": JIDS["alice"]}
    assert listed(server, "bob", group["id"])["myRole"] == "member"
    info = call(server, "GET", "bob", f"/{group['id']}")
    assert info.status == 200 and info.json["owner"] == JIDS["alice"] and info.json["size"] == 2


def test_participants_answer_per_participant_and_members_hear_it(server, receiver, group):
    body = {"action": "add", "participants": [PHONES["carol"], NOT_ON_WHATSAPP, JIDS["bob"]]}
    resp = call(server, "POST", "alice", f"/{group['id']}/participants", body)
    assert resp.status == 200, resp
    assert [(r["jid"], r["result"]) for r in resp.json["results"]] == [
        (JIDS["carol"], "added"), ("4915100000999@s.whatsapp.net", "not_on_whatsapp"),
        (JIDS["bob"], "already_in_group")]
    [added] = wait_heard(receiver, "bob", "group.participants", group["id"])
    assert added == {"group": group["id"], "action": "added", "participants": [JIDS["carol"]], "by": JIDS["alice"]}
    assert listed(server, "bob", group["id"])["size"] == 3, "bob's cache followed the event"
    resp = call(server, "POST", "alice", f"/{group['id']}/participants",
                {"action": "remove", "participants": [PHONES["dave"]]})
    assert [r["result"] for r in resp.json["results"]] == ["not_in_group"]


def test_promote_reaches_the_promoted_members_role(server, receiver, group):
    resp = call(server, "POST", "alice", f"/{group['id']}/participants",
                {"action": "promote", "participants": [JIDS["bob"]]})
    assert [r["result"] for r in resp.json["results"]] == ["promoted"]
    receiver.wait_for(lambda: any(e["action"] == "promoted" for e in heard(receiver, "bob", "group.participants",
                                                                           group["id"])), what="bob promoted")
    assert listed(server, "bob", group["id"])["myRole"] == "admin"


def test_settings_change_and_every_member_hears_group_updated(server, receiver, group):
    resp = call(server, "PATCH", "alice", f"/{group['id']}", {"subject": "Team Berlin (night)", "announce": True})
    assert resp.status == 200, resp
    assert (resp.json["subject"], resp.json["announce"], resp.json["locked"]) == ("Team Berlin (night)", True, False)
    updates = wait_heard(receiver, "bob", "group.updated", group["id"], count=2)
    assert [u["changes"] for u in updates[:2]] == [{"subject": "Team Berlin (night)"}, {"announce": True}]
    got = listed(server, "bob", group["id"])
    assert (got["subject"], got["announce"]) == ("Team Berlin (night)", True)


def test_invite_link_reset_and_join_by_link_then_leave(server, receiver, group):
    link = call(server, "GET", "alice", f"/{group['id']}/invite").json["link"]
    new = call(server, "DELETE", "alice", f"/{group['id']}/invite").json["link"]
    assert link != new and new.startswith("https://chat.whatsapp.com/")
    assert call(server, "POST", "dave", "/join", {"link": link}).status == 404, "the old link was reset"
    resp = call(server, "POST", "dave", "/join", {"link": new})
    assert resp.status == 200 and resp.json == {"group": group["id"]}
    [joined] = wait_heard(receiver, "dave", "group.joined", group["id"])
    assert joined["reason"] == "invite" and joined["myRole"] == "member"
    resp = call(server, "POST", "dave", f"/{group['id']}/leave")
    assert resp.status == 200 and resp.json == {"group": group["id"], "left": True}
    assert listed(server, "dave", group["id"]) is None
    [left] = wait_heard(receiver, "dave", "group.left", group["id"])
    assert left == {"group": group["id"], "reason": "left", "by": JIDS["dave"]}
    receiver.wait_for(lambda: any(e["action"] == "removed" and e["participants"] == [JIDS["dave"]]
                                  for e in heard(receiver, "alice", "group.participants", group["id"])),
                      what="alice hears dave leave")


def test_a_group_text_fans_out_to_every_member_with_its_sender(server, receiver, group):
    resp = server.request("POST", "/api/messages/send", {"clientId": "alice", "to": group["id"], "text": "hi all"})
    assert resp.status == 200, resp
    for member in ("bob", "carol"):
        [message] = receiver.wait_for(lambda m=member: [e["data"] for e in hits_of(receiver, m, "message")
                                                        if e["data"]["text"] == "hi all"] or None, what=member)
        assert (message["chat"], message["isGroup"], message["fromJid"]) == (group["id"], True, JIDS["alice"])
    receiver.wait_for(lambda: [e for e in hits_of(receiver, "alice", "message.ack")
                               if e["data"]["id"] == resp.json["messageId"] and e["data"]["status"] == "read"],
                      what="alice's read ack from a member")
    assert all(hit.verified for hit in receiver.attempts()), "every delivery carries a valid signature"


def test_removed_member_hears_group_left_as_removed(server, receiver, group):
    resp = call(server, "POST", "alice", f"/{group['id']}/participants",
                {"action": "remove", "participants": [PHONES["carol"]]})
    assert [r["result"] for r in resp.json["results"]] == ["removed"]
    [left] = wait_heard(receiver, "carol", "group.left", group["id"])
    assert left == {"group": group["id"], "reason": "removed", "by": JIDS["alice"]}
    assert call(server, "GET", "carol", f"/{group['id']}").status == 404


@pytest.mark.parametrize("method, tail, body, words", [
    ("GET", "/12345@s.whatsapp.net", None, "group JID"),
    ("GET", "/abc@g.us", None, "group JID"),
    ("POST", "", {"subject": " ", "participants": ["+4915100000002"]}, "subject"),
    ("POST", "", {"subject": "x", "participants": []}, "participants"),
    ("POST", "", {"subject": "x", "participants": ["120363012345678901@g.us"]}, "participants"),
    ("POST", "", {"subject": "x" * 101, "participants": ["+4915100000002"]}, "subject"),
    ("POST", "/join", {"link": "https://example.com/AbCdEfGhIjKlMnOpQrStUv"}, "invite link"),
    ("POST", "/join", {"link": "short"}, "invite link"),
    ("POST", "/120363012345678901@g.us/participants", {"action": "ban", "participants": ["+4915100000002"]}, "action"),
    ("PATCH", "/120363012345678901@g.us", {}, "at least one"),
    ("PATCH", "/120363012345678901@g.us", {"announce": "yes"}, "announce"),
    ("GET", "?refresh=maybe", None, "refresh"),
])
def test_bad_input_is_a_400_that_names_the_field(server, method, tail, body, words):
    resp = call(server, method, "alice", tail, body)
    assert resp.status == 400 and resp.json["error"] == "invalid_request", resp
    assert words in resp.json["message"], resp.json


def test_a_group_the_client_is_not_in_is_404_on_every_route(server):
    unknown = "/120363012345678901@g.us"
    for method, tail, body in [("GET", unknown, None), ("PATCH", unknown, {"subject": "x"}),
                               ("POST", f"{unknown}/participants",
                                {"action": "add", "participants": ["+4915100000002"]}),
                               ("GET", f"{unknown}/invite", None), ("POST", f"{unknown}/leave", None)]:
        resp = call(server, method, "alice", tail, body)
        assert resp.status == 404 and resp.json["error"] == "not_found", (method, tail, resp)


def test_a_member_that_is_not_admin_gets_409_not_group_admin(server, group):
    resp = call(server, "POST", "alice", f"/{group['id']}/participants",
                {"action": "demote", "participants": [JIDS["bob"]]})
    assert [r["result"] for r in resp.json["results"]] == ["demoted"]
    resp = call(server, "GET", "bob", f"/{group['id']}/invite")
    assert resp.status == 409 and resp.json["error"] == "not_group_admin", resp


def test_a_scoped_key_sees_its_clients_groups_only(server, group):
    key = server.request("POST", "/api/keys", {"clients": ["bob"]}).json["key"]
    assert call(server, "GET", "bob", key=key).status == 200
    for method, tail in [("GET", ""), ("GET", f"/{group['id']}"), ("POST", f"/{group['id']}/leave")]:
        resp = call(server, method, "alice", tail, key=key)
        assert resp.status == 404 and resp.json["message"] == "No client with id 'alice'.", resp


def test_forced_refreshes_are_paced_and_the_cache_still_answers(server):
    statuses = [call(server, "GET", "carol", "?refresh=true") for _ in range(12)]
    limited = [r for r in statuses if r.status == 429]
    assert limited and all(r.status == 200 for r in statuses[:statuses.index(limited[0])])
    assert limited[0].json["error"] == "rate_limited" and 1 <= int(limited[0].headers["retry-after"]) <= 3
    assert call(server, "GET", "carol").status == 200, "the cache answers while refreshes wait"
