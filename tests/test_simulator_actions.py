"""The simulator's message actions sent through the queue: B sees A's reaction, edit and revoke as
the conversation events (MessageReacted, MessageEdited, MessageRevoked), and A sees B's read mark
as a `read` ReceiptReceived of A's message, before the network's own read delay."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.test_simulator_network import A, B, message, receipt
from tests.test_simulator_network import network  # noqa: F401  (fixture)
from wamulti.backends import backend_api as bk
from wamulti.backends.conversation_api import MessageEdited, MessageReacted, MessageRevoked
from wamulti.backends.simulator import sim_backend
from wamulti.backends.simulator.sim_backend import SimulatorBackend


@pytest.fixture
def slow_reader(monkeypatch):
    """The network's automatic read receipts come after a minute: a `read` sooner is B's own mark."""
    real_init = SimulatorBackend.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **{**kwargs, "read_delay": 60.0})
    monkeypatch.setattr(sim_backend.SimulatorBackend, "__init__", init)


def test_b_sees_a_reaction_an_edit_and_a_revoke_of_the_message_they_got(network):  # noqa: F811
    a, b = network("alice", A), network("bob", B)
    sent = a.session.send_text(b.jid, "total: 12 EUR")
    b.wait_for(message(sent.message_id))
    mine = bk.TargetKey(sent.message_id, b.jid, True)
    reacted = a.session.send_message(b.jid, bk.ReactionOut(mine, "👍"), "3EB0REACTION")
    a.session.send_message(b.jid, bk.EditOut(mine, "total: 21 EUR"))
    a.session.send_message(b.jid, bk.RevokeOut(mine))
    [reaction] = b.wait_for(lambda e: isinstance(e, MessageReacted))
    assert (reaction.message_id, reaction.emoji, reaction.target_id, reaction.target_from_me) == (
        reacted.message_id, "👍", sent.message_id, False)
    assert (reaction.chat, reaction.sender_jid, reaction.sender_phone, reacted.message_id) == (a.jid, a.jid, A,
                                                                                               "3EB0REACTION")
    [edit] = b.wait_for(lambda e: isinstance(e, MessageEdited))
    assert (edit.target_id, edit.text, edit.chat, edit.from_me) == (sent.message_id, "total: 21 EUR", a.jid, False)
    [revoke] = b.wait_for(lambda e: isinstance(e, MessageRevoked))
    assert (revoke.target_id, revoke.chat, revoke.sender_jid) == (sent.message_id, a.jid, a.jid)
    kinds = [type(e).__name__ for e in b.events if isinstance(e, (MessageReacted, MessageEdited, MessageRevoked))]
    assert kinds == ["MessageReacted", "MessageEdited", "MessageRevoked"], "in the order A sent them"
    assert [m.message_id for m in b.messages()] == [sent.message_id], "an action is not a new message"


def test_a_reaction_to_bs_own_message_is_one_to_bs_message(network):  # noqa: F811
    a, b = network("alice", A), network("bob", B)
    theirs = b.session.send_text(a.jid, "in stock?")
    a.wait_for(message(theirs.message_id))
    a.session.send_message(b.jid, bk.ReactionOut(bk.TargetKey(theirs.message_id, b.jid, False), "❤️"))
    [reaction] = b.wait_for(lambda e: isinstance(e, MessageReacted))
    assert (reaction.target_id, reaction.target_from_me, reaction.emoji) == (theirs.message_id, True, "❤️")


def test_a_sees_bs_read_mark_as_a_read_receipt_of_its_message(slow_reader, network):  # noqa: F811
    a, b = network("alice", A), network("bob", B)
    first = a.session.send_text(b.jid, "one")
    second = a.session.send_text(b.jid, "two")
    b.wait_for(message(second.message_id))
    a.wait_for(receipt(first.message_id, "delivered"))
    assert "read" not in a.receipts(first.message_id), "the network's own read receipt is a minute away"
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    b.session.mark_read(a.jid, a.jid, (first.message_id, second.message_id), at)
    [read] = a.wait_for(lambda e: isinstance(e, bk.ReceiptReceived) and e.status == "read")
    assert (read.message_ids, read.chat, read.at) == ((first.message_id, second.message_id), b.jid, at)


def test_a_read_mark_needs_a_connection(slow_reader, network):  # noqa: F811
    b = network("bob", B)
    b.session.stop()
    with pytest.raises(bk.NotConnected):
        b.session.mark_read(f"{A}@s.whatsapp.net", f"{A}@s.whatsapp.net", ("X1",), datetime.now(timezone.utc))
