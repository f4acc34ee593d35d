"""ActionTargets on a real store, for what the HTTP tests cannot reach without simulated groups: a
group message's author taken from what the client heard (Hearing's RecentAuthors) or from the
request, a read mark sent once per author, and an admin's revoke keyed to someone else's message."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from wamulti.backends.backend_api import MessageReceived, RevokeOut, SentMessage, TargetKey
from wamulti.errors import InvalidField
from wamulti.hearing.heard_events import Hearing, NoEvents
from wamulti.sending.action_payloads import ActionRequest, action_of, action_payload
from wamulti.sending.action_sends import ActionTargets

GROUP = "120363012345678901@g.us"
ANA, BEN = "491511111111@s.whatsapp.net", "491522222222@s.whatsapp.net"
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=timezone.utc)


def heard(hearing: Hearing, message_id: str, author: str) -> None:
    hearing.heard(MessageReceived(message_id=message_id, chat=GROUP, sender_jid=author, sender_phone=None,
                                  is_group=True, from_me=False, push_name=None, kind="text", text="hi", sent_at=NOW))


@pytest.fixture
def targets(sqlite_store):
    hearing = Hearing("alice", NoEvents())
    heard(hearing, "WA-ANA-1", ANA)
    heard(hearing, "WA-BEN-1", BEN)
    heard(hearing, "WA-ANA-2", ANA)
    return ActionTargets("alice", sqlite_store, hearing.authors.author_of)


class RecordingSession:
    """Test double of a backend session's two action calls (the network round trips): records them."""

    def __init__(self):
        self.reads: list[tuple] = []
        self.sent: list[tuple] = []

    def mark_read(self, chat, sender_jid, message_ids, at):
        self.reads.append((chat, sender_jid, message_ids))

    def send_message(self, to_jid, outgoing, message_id=None):
        self.sent.append((to_jid, outgoing, message_id))
        return SentMessage(message_id or "WA-NEW", NOW)


def test_a_reaction_in_a_group_names_the_author_the_client_heard(targets):
    line, request = targets.admit(ActionRequest("react", GROUP, "WA-BEN-1", emoji="👍"))
    assert (line, request.participant) == (GROUP, BEN)
    key = targets.key(request, GROUP)
    assert key == TargetKey("WA-BEN-1", GROUP, False, BEN)
    given = targets.admit(ActionRequest("react", GROUP, "WA-NEVER-HEARD", emoji="👍", participant=ANA))[1]
    assert given.participant == ANA, "the request's participant is taken as given"
    with pytest.raises(InvalidField) as refused:
        targets.admit(ActionRequest("react", GROUP, "WA-NEVER-HEARD", emoji="👍"))
    assert refused.value.field == "participant"


def test_a_read_mark_in_a_group_goes_once_per_author(targets):
    _, request = targets.admit(ActionRequest("read", GROUP, "WA-ANA-1", message_ids=("WA-ANA-1", "WA-BEN-1",
                                                                                     "WA-ANA-2")))
    assert request.senders == (("WA-ANA-1", ANA), ("WA-BEN-1", BEN), ("WA-ANA-2", ANA))
    again = action_of(action_payload(request))
    assert again == request, "the queue's row keeps the authors"
    session = RecordingSession()
    assert targets.perform(session, again, GROUP, "3EB0READ") is None
    assert session.reads == [(GROUP, ANA, ("WA-ANA-1", "WA-ANA-2")), (GROUP, BEN, ("WA-BEN-1",))]


def test_a_read_mark_in_a_chat_of_two_names_the_chat_as_sender(targets):
    _, request = targets.admit(ActionRequest("read", ANA, "WA-X", message_ids=("WA-X", "WA-Y")))
    session = RecordingSession()
    targets.perform(session, request, ANA)
    assert session.reads == [(ANA, ANA, ("WA-X", "WA-Y"))]


def test_an_admins_revoke_keys_someone_elses_message_and_a_plain_revoke_our_own(targets):
    session = RecordingSession()
    _, admins = targets.admit(ActionRequest("revoke", GROUP, "WA-BEN-1", participant=BEN))
    targets.perform(session, admins, GROUP, "3EB0REV1")
    _, own = targets.admit(ActionRequest("revoke", GROUP, "WA-MINE"))
    targets.perform(session, own, GROUP, "3EB0REV2")
    assert session.sent == [(GROUP, RevokeOut(TargetKey("WA-BEN-1", GROUP, False, BEN)), "3EB0REV1"),
                            (GROUP, RevokeOut(TargetKey("WA-MINE", GROUP, True, None)), "3EB0REV2")]


def test_the_client_remembers_a_bounded_number_of_authors():
    hearing = Hearing("alice", NoEvents())
    for number in range(4100):
        heard(hearing, f"WA{number}", ANA if number % 2 else BEN)
    assert hearing.authors.author_of("WA0") is None, "the oldest are forgotten"
    assert (hearing.authors.author_of("WA4099"), hearing.authors.author_of("WA4098")) == (ANA, BEN)
