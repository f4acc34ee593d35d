"""The simulator's conversation on its loopback network: privacy ids (LIDs), presence that is never
queued, actions on messages, calls, and the lookups answered from the network."""

from __future__ import annotations

import time

from tests.test_simulator_network import A, B, C, message, network  # noqa: F401  (fixture)
from wamulti.backends import backend_api as bk
from wamulti.backends import conversation_api as cv
from wamulti.backends.simulator.simnet import lid_jid, lid_of


def test_a_lid_is_stable_fifteen_digits_and_not_the_number():
    assert lid_of(A) == lid_of(A) != lid_of(B)
    assert len(lid_of(A)) == 15 and lid_of(A)[0] != "0" and A not in lid_of(A)


def test_a_text_to_a_lid_arrives_from_the_senders_lid_with_its_phone_only_between_contacts(network):
    a, b = network("alice", A), network("bob", B)
    first = a.session.send_text(lid_jid(B), "first contact")
    got = b.wait_for(message(first.message_id))[0]
    assert (got.chat, got.sender_jid, got.sender_phone) == (lid_jid(A), lid_jid(A), None)
    answer = b.session.send_text(got.sender_jid, "answered at the lid")
    back = a.wait_for(message(answer.message_id))[0]
    assert (back.sender_jid, back.sender_phone) == (lid_jid(B), B), "they are contacts now"
    a.wait_for(lambda e: isinstance(e, bk.ReceiptReceived) and e.status == "read")


def test_presence_reaches_a_connected_peer_and_is_never_queued_for_an_offline_one(network):
    a, b, c = network("alice", A), network("bob", B), network("carol", C)
    a.session.send_text(b.jid, "hi")  # bob is alice's peer now, carol is not
    a.session.send_presence("composing", b.jid)
    typing = b.wait_for(lambda e: isinstance(e, cv.PresenceSeen))[0]
    assert typing == cv.PresenceSeen(a.jid, A, "composing", chat=a.jid)
    a.session.send_presence("available")
    b.wait_for(lambda e: isinstance(e, cv.PresenceSeen) and e.state == "available")
    b.stop()
    a.session.send_presence("paused", b.jid)
    a.session.send_text(b.jid, "while you were away")
    b.start()
    b.wait_for(lambda e: isinstance(e, bk.MessageReceived) and e.text == "while you were away")
    assert not [e for e in b.events if isinstance(e, cv.PresenceSeen) and e.state == "paused"], "momentary"
    time.sleep(0.2)
    assert not [e for e in c.events if isinstance(e, cv.PresenceSeen)], "not a peer: sees no online status"


def test_actions_and_calls_arrive_as_their_events_and_a_command_without_its_id_is_a_text(network):
    a, b = network("alice", A), network("bob", B)
    sent = a.session.send_text(b.jid, "v1")
    a.session.send_text(b.jid, f"/sim react {sent.message_id} 🎉")
    a.session.send_text(b.jid, f"/sim edit {sent.message_id} v2")
    a.session.send_text(b.jid, f"/sim revoke {sent.message_id}")
    a.session.send_text(b.jid, "/sim call")
    a.session.send_text(b.jid, "/sim react")
    b.wait_for(lambda e: isinstance(e, bk.MessageReceived) and e.text == "/sim react")
    reacted = b.wait_for(lambda e: isinstance(e, cv.MessageReacted))[0]
    assert (reacted.emoji, reacted.target_id, reacted.sender_jid) == ("🎉", sent.message_id, a.jid)
    assert b.wait_for(lambda e: isinstance(e, cv.MessageEdited))[0].text == "v2"
    assert b.wait_for(lambda e: isinstance(e, cv.MessageRevoked))[0].target_id == sent.message_id
    call = b.wait_for(lambda e: isinstance(e, cv.CallOffered))[0]
    assert (call.caller, call.caller_phone, call.video) == (a.jid, A, False)
    b.session.reject_call(call.caller, call.call_id)


def test_lookups_answer_from_the_network(network):
    a, b = network("alice", A), network("bob", B)
    a.session.send_text(b.jid, "hi")
    b.wait_for(lambda e: isinstance(e, bk.MessageReceived))
    assert b.session.contacts() == [cv.KnownContact(a.jid, A, None, "alice")]
    assert b.session.picture_url(lid_jid(A)).endswith(f"/{A}.jpg")
    assert b.session.picture_url("4915199999999@s.whatsapp.net") is None
    assert b.session.profile() == cv.Profile(b.jid, "bob", "Hey there! I am using WhatsApp.")
    assert b.session.check_numbers([A, "4915199999999"]) == {A: a.jid, "4915199999999": "4915199999999@s.whatsapp.net"}
