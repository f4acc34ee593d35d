"""The group cache and its calls without HTTP: freshness from events (a load under way included), our
own identity behind a privacy id, the token bucket's pace, NotReady, and the errors a backend raises."""

from __future__ import annotations

import pytest

from wamulti.backends import group_api as ga
from wamulti.errors import NotFound, NotReady, RateLimited, Upstream
from wamulti.groups.client_groups import ClientGroups
from wamulti.groups.group_book import GroupBook
from wamulti.groups.rate_bucket import TokenBucket
from wamulti.hearing.event_model import EventType

ME, ANA, BO = "4917000000001@s.whatsapp.net", "4915123456789@s.whatsapp.net", "4915111111111@s.whatsapp.net"
MY_LID = "123456789012345@lid"
G1, G2 = "120363000000000001@g.us", "120363000000000002@g.us"


def group(group_id=G1, subject="Team", *people) -> ga.GroupInfo:
    members = people or (ga.Participant(ME, "4917000000001", "superadmin"),
                         ga.Participant(ANA, "4915123456789", "member"))
    return ga.GroupInfo(group_id, subject, "", ME, None, False, False, tuple(members))


class FakeClock:
    """Test double of time.monotonic: moves only when told."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class RecordingGroupCalls(ga.GroupCalls):
    """Test double of a session's group calls: answers from a list, counts the metadata calls, and can
    hand an event to the book while its joined_groups call is under way (as WhatsApp may)."""

    def __init__(self, groups, during_load=None, error=None):
        self.groups, self.during_load, self.error = groups, during_load, error
        self.metadata_calls = 0

    def joined_groups(self):
        self.metadata_calls += 1
        if self.error is not None:
            raise self.error
        if self.during_load is not None:
            self.during_load()
        return list(self.groups)

    def group_info(self, group_id):
        self.metadata_calls += 1
        return next(g for g in self.groups if g.group_id == group_id)

    def create_group(self, subject, participants): raise NotImplementedError
    def change_participants(self, group_id, action, participants): raise NotImplementedError
    def set_subject(self, group_id, subject): pass
    def set_description(self, group_id, description): pass
    def set_announce(self, group_id, announce): pass
    def set_locked(self, group_id, locked): pass
    def invite_link(self, group_id, reset=False): raise ga.NotGroupAdmin("forbidden")
    def join_with_link(self, code): raise ga.InviteInvalid("revoked")
    def leave(self, group_id): raise ga.GroupNotFound("gone")


def service(calls, clock=None, capacity=10):
    clock = clock or FakeClock()
    return ClientGroups("c1", GroupBook(lambda: ME), lambda: calls, TokenBucket(capacity, 1 / 3, clock))


def test_a_list_loads_once_and_then_answers_from_the_cache():
    calls = RecordingGroupCalls([group(G1, "b"), group(G2, "A")])
    groups = service(calls)
    for _ in range(50):
        listed = groups.list()
    assert calls.metadata_calls == 1
    assert [(s.group_id, s.subject, s.size, s.my_role) for s in listed] == [(G2, "A", 2, "superadmin"),
                                                                            (G1, "b", 2, "superadmin")]
    assert groups.info(G1).participants[1].jid == ANA and calls.metadata_calls == 1
    with pytest.raises(NotFound):
        groups.info("120363000000000009@g.us")
    assert calls.metadata_calls == 1, "an unknown group costs no call"


def test_events_keep_the_cache_fresh_and_say_what_to_publish():
    groups = service(RecordingGroupCalls([group()]))
    groups.list()
    told = groups.heard(ga.GroupParticipantsChanged(G1, "add", (BO,), ANA))
    assert told == [(EventType.GROUP_PARTICIPANTS, {"group": G1, "action": "added", "participants": [BO], "by": ANA})]
    groups.heard(ga.GroupParticipantsChanged(G1, "demote", (ME,), ANA))
    groups.heard(ga.GroupInfoChanged(G1, ANA, subject="Renamed", locked=True))
    [summary] = groups.list()
    assert (summary.subject, summary.size, summary.locked, summary.my_role) == ("Renamed", 3, True, "member")
    told = groups.heard(ga.GroupParticipantsChanged(G1, "remove", (ME, BO), ANA))
    assert told == [(EventType.GROUP_PARTICIPANTS, {"group": G1, "action": "removed", "participants": [BO], "by": ANA}),
                    (EventType.GROUP_LEFT, {"group": G1, "reason": "removed", "by": ANA})]
    assert groups.list() == []


def test_an_event_during_a_load_is_applied_over_the_loaded_answer():
    calls = RecordingGroupCalls([group()])
    groups = service(calls)
    calls.during_load = lambda: groups.heard(ga.GroupJoined(group(G2, "new"), "added", ANA))
    assert [s.group_id for s in groups.list()] == [G2, G1], "the join that raced the load is kept"


def test_our_privacy_id_is_learned_from_a_member_with_our_number():
    me_by_lid = ga.Participant(MY_LID, "4917000000001", "admin")
    groups = service(RecordingGroupCalls([group(G1, "T", me_by_lid, ga.Participant(ANA, None, "member"))]))
    assert groups.list()[0].my_role == "admin"
    told = groups.heard(ga.GroupParticipantsChanged(G1, "remove", (MY_LID,), MY_LID))
    assert told == [(EventType.GROUP_LEFT, {"group": G1, "reason": "left", "by": MY_LID})]


def test_metadata_reads_are_paced_by_the_bucket_and_the_cache_answers_meanwhile():
    clock = FakeClock()
    calls = RecordingGroupCalls([group()])
    groups = service(calls, clock, capacity=3)
    for _ in range(3):
        groups.list(refresh=True)
    with pytest.raises(RateLimited) as refused:
        groups.info(G1, refresh=True)
    assert 2.9 < refused.value.retry_after <= 3.0 and calls.metadata_calls == 3
    assert groups.list() and groups.info(G1), "the cache still answers"
    clock.now += 3.0
    groups.info(G1, refresh=True)
    assert calls.metadata_calls == 4


def test_not_ready_comes_before_any_call():
    def not_ready():
        raise NotReady("Client 'c1' is CONNECTING, not READY.", current_state="CONNECTING")

    groups = ClientGroups("c1", GroupBook(lambda: ME), not_ready)
    with pytest.raises(NotReady):
        groups.list()
    for _ in range(int(groups.bucket.capacity)):  # no token was spent: the whole burst is left
        groups.bucket.take("test")


def test_backend_refusals_become_domain_errors():
    from wamulti.errors import NotGroupAdmin

    groups = service(RecordingGroupCalls([group()]))
    with pytest.raises(NotGroupAdmin):
        groups.invite(G1)
    with pytest.raises(NotFound, match="invite link"):
        groups.join("AbCdEfGhIjKlMnOpQrStUv")
    with pytest.raises(NotFound, match="not in a group"):
        groups.leave(G1)
    broken = service(RecordingGroupCalls([], error=ga.GroupsUnsupported("none")))
    with pytest.raises(Upstream):
        broken.list()
