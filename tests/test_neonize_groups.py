"""Groups on the neonize backend, offline: every group call goes through the real library's own client
method (neonize's Python code builds the real request protos and reads the real answer protos); only the
network round trip is a named test double of the Go library, which records what neonize handed it and
answers with real serialised protos. The incoming group events are real protobufs fed through a real
client's event entry point, and a whole worker on a real session gets them into its cache and events.
"""

from __future__ import annotations

import contextlib
import ctypes
from datetime import datetime, timezone

import pytest

from wamulti.backends import group_api as ga
from wamulti.backends.backend_api import NotConnected
from wamulti.backends.neonize import outgoing
from wamulti.backends.neonize.neonize_groups import NeonizeGroups, translate_group_info, translate_joined
from wamulti.seams.neonize_internals import detach_stop_on_collect, replace_go_library
from tests.test_neonize_backend import settings, store  # noqa: F401  (fixtures; the module skips unless offline)

neonize_events = pytest.importorskip("neonize.events")
from neonize.client import NewClient  # noqa: E402
from neonize.exc import NeonizeError  # noqa: E402
from neonize.proto import Neonize_pb2 as N  # noqa: E402
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message  # noqa: E402

GROUP = "120363025246125486"
ME, ANA, BO = "4917000000001", "4915123456789", "4915111111111"
LID = "123456789012345"
CREATED = 1764064768  # GroupCreated is a float32 in neonize's proto: a value it holds exactly


def jid(user: str, server: str = "s.whatsapp.net") -> N.JID:
    return N.JID(User=user, Server=server)


def wire_bytes(proto) -> bytes:
    """A Go function's answer, serialised (partially: the tests leave out required fields Go always fills)."""
    return proto.SerializePartialToString()


def info_proto(topic_id: str = "TOPIC1") -> N.GroupInfo:
    return N.GroupInfo(
        JID=jid(GROUP, "g.us"), OwnerJID=jid(ME), GroupName=N.GroupName(Name="Team Berlin"),
        GroupTopic=N.GroupTopic(Topic="Orders", TopicID=topic_id), GroupAnnounce=N.GroupAnnounce(IsAnnounce=True),
        GroupLocked=N.GroupLocked(isLocked=False), GroupCreated=CREATED,
        Participants=[N.GroupParticipant(JID=jid(ME), IsAdmin=True, IsSuperAdmin=True),
                      N.GroupParticipant(JID=jid(LID, "lid"), PhoneNumber=jid(ANA), IsAdmin=True),
                      N.GroupParticipant(JID=jid(BO))])


EXPECTED = ga.GroupInfo(f"{GROUP}@g.us", "Team Berlin", "Orders", f"{ME}@s.whatsapp.net",
                        datetime.fromtimestamp(CREATED, timezone.utc), True, False,
                        (ga.Participant(f"{ME}@s.whatsapp.net", ME, "superadmin"),
                         ga.Participant(f"{LID}@lid", ANA, "admin"),
                         ga.Participant(f"{BO}@s.whatsapp.net", BO, "member")))


class RecordingGoLibrary:
    """Test double of neonize's Go library (the network round trip only): records each function neonize
    calls with its arguments and answers what the test set for it (real serialised protos, or bytes)."""

    def __init__(self):
        self.calls: list[tuple[str, tuple]] = []
        self.answers: dict[str, bytes] = {"GenerateMessageID": b"3EB0NEWTOPIC"}

    def __getattr__(self, name: str):
        def call(*args):
            self.calls.append((name, args))
            return self.answers.get(name, b"")
        return call

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def last(self, name: str) -> tuple:
        return [args for n, args in self.calls if n == name][-1]


@pytest.fixture
def wire(tmp_path):
    """A real NewClient whose Go library is the recording double, and its group calls."""
    client = NewClient(str(tmp_path / "groups.session"), uuid="neonize-groups-test")
    library = RecordingGoLibrary()
    replace_go_library(client, library)
    yield NeonizeGroups(client, NeonizeError, contextlib.nullcontext), library, client
    detach_stop_on_collect(client)  # never started: no Go entry for GC to stop


def test_joined_groups_is_one_call_read_into_groups_with_roles_and_privacy_ids(wire):
    groups, library, _ = wire
    library.answers["GetJoinedGroups"] = wire_bytes(N.GetJoinedGroupsReturnFunction(Group=[info_proto()]))
    assert groups.joined_groups() == [EXPECTED]
    assert library.names() == ["GetJoinedGroups"]


def test_group_info_asks_for_the_group_jid(wire):
    groups, library, _ = wire
    library.answers["GetGroupInfo"] = wire_bytes(N.GetGroupInfoReturnFunction(GroupInfo=info_proto()))
    assert groups.group_info(f"{GROUP}@g.us") == EXPECTED
    asked = N.JID.FromString(library.last("GetGroupInfo")[1])
    assert (asked.User, asked.Server) == (GROUP, "g.us")


def test_create_sends_the_subject_and_participant_jids(wire):
    groups, library, _ = wire
    library.answers["CreateGroup"] = wire_bytes(N.GetGroupInfoReturnFunction(GroupInfo=info_proto()))
    assert groups.create_group("Team Berlin", [f"{ANA}@s.whatsapp.net", f"{LID}@lid"]) == EXPECTED
    request = N.ReqCreateGroup.FromString(library.last("CreateGroup")[1])
    assert request.name == "Team Berlin" and request.CreateKey == "3EB0NEWTOPIC"
    assert [(j.User, j.Server) for j in request.Participants] == [(ANA, "s.whatsapp.net"), (LID, "lid")]


def test_participant_codes_become_one_outcome_each_in_the_order_asked(wire):
    groups, library, _ = wire
    answers = [N.GroupParticipant(JID=jid(ANA), Error=0),
               N.GroupParticipant(JID=jid(LID, "lid"), PhoneNumber=jid(BO), Error=403,
                                  AddRequest=N.GroupParticipantAddRequest(Code="INV1TE", Expiration=CREATED)),
               N.GroupParticipant(JID=jid("4915100000000"), Error=404), N.GroupParticipant(JID=jid(ME), Error=409)]
    library.answers["UpdateGroupParticipants"] = wire_bytes(N.UpdateGroupParticipantsReturnFunction(
        participants=answers))
    asked = [f"{ANA}@s.whatsapp.net", f"{BO}@s.whatsapp.net", "4915100000000@s.whatsapp.net", f"{ME}@s.whatsapp.net",
             "4915199999999@s.whatsapp.net"]
    got = groups.change_participants(f"{GROUP}@g.us", "add", asked)
    assert [(o.jid, o.outcome, o.invite_code) for o in got] == [
        (asked[0], "added", None), (asked[1], "needs_invite", "INV1TE"), (asked[2], "not_on_whatsapp", None),
        (asked[3], "already_in_group", None), (asked[4], "failed", None)]
    _, group_buf, _, people_buf, _, action = library.last("UpdateGroupParticipants")
    assert N.JID.FromString(group_buf).Server == "g.us" and action == b"add"
    assert [j.User for j in N.JIDArray.FromString(people_buf).JIDS] == [a.split("@")[0] for a in asked]


def test_settings_each_call_their_function_and_the_description_names_its_current_id(wire):
    groups, library, _ = wire
    library.answers["GetJoinedGroups"] = wire_bytes(N.GetJoinedGroupsReturnFunction(Group=[info_proto("TOPIC1")]))
    groups.joined_groups()
    group = f"{GROUP}@g.us"
    groups.set_subject(group, "Team Berlin (night)")
    groups.set_description(group, "Orders and shifts")
    groups.set_announce(group, False)
    groups.set_locked(group, True)
    assert library.names() == ["GetJoinedGroups", "SetGroupName", "GenerateMessageID", "SetGroupTopic",
                               "SetGroupAnnounce", "SetGroupLocked"], "no GetGroupInfo before the topic"
    assert library.last("SetGroupName")[3].value == "Team Berlin (night)".encode()
    assert library.last("SetGroupTopic")[3:] == (b"TOPIC1", b"3EB0NEWTOPIC", "Orders and shifts".encode())
    assert library.last("SetGroupAnnounce")[3] is False and library.last("SetGroupLocked")[3] is True


def test_invite_join_and_leave(wire):
    groups, library, _ = wire
    link = "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrStUv"
    library.answers["GetGroupInviteLink"] = wire_bytes(N.GetGroupInviteLinkReturnFunction(InviteLink=link))
    library.answers["JoinGroupWithLink"] = wire_bytes(N.JoinGroupWithLinkReturnFunction(Jid=jid(GROUP, "g.us")))
    assert groups.invite_link(f"{GROUP}@g.us", reset=True) == link
    assert library.last("GetGroupInviteLink")[3] is True, "reset revokes"
    assert groups.join_with_link("AbCdEfGhIjKlMnOpQrStUv") == f"{GROUP}@g.us"
    assert library.last("JoinGroupWithLink")[1] == b"AbCdEfGhIjKlMnOpQrStUv"
    groups.leave(f"{GROUP}@g.us")
    assert library.names()[-1] == "LeaveGroup"


@pytest.mark.parametrize("words, error", [
    ("info query returned status 404: item-not-found", ga.GroupNotFound),
    ("you're not participating in that group", ga.GroupNotFound),
    ("info query returned status 403: forbidden", ga.NotGroupAdmin),
    ("client is nil", NotConnected),
])
def test_the_librarys_errors_become_group_errors(wire, words, error):
    groups, library, _ = wire
    library.answers["GetGroupInfo"] = wire_bytes(N.GetGroupInfoReturnFunction(Error=words))
    with pytest.raises(error):
        groups.group_info(f"{GROUP}@g.us")


def test_a_revoked_invite_link_is_invalid(wire):
    groups, library, _ = wire
    library.answers["JoinGroupWithLink"] = wire_bytes(N.JoinGroupWithLinkReturnFunction(
        Error="that group invite link has been revoked"))
    with pytest.raises(ga.InviteInvalid):
        groups.join_with_link("AbCdEfGhIjKlMnOpQrStUv")


def test_a_group_send_is_one_send_message_call_and_no_group_metadata_call(wire):
    _, library, client = wire
    library.answers["SendMessage"] = wire_bytes(N.SendMessageReturnFunction(
        SendResponse=N.SendResponse(ID="3EB0AA", Timestamp=CREATED)))
    for _ in range(3):
        outgoing.send_text(client, f"{GROUP}@g.us", "see @120363099999999999@g.us and @4915123456789")
    assert library.names() == ["SendMessage"] * 3, "a plain str would have fetched group info per mention"
    _, to_buf, _, message_buf, _ = library.last("SendMessage")
    assert N.JID.FromString(to_buf).Server == "g.us"
    assert [f.name for f, _ in Message.FromString(message_buf).ListFields()] == ["conversation"]


# ---- incoming ------------------------------------------------------------------------------------------
@pytest.fixture
def events_client(tmp_path):
    client = NewClient(str(tmp_path / "group-events.session"), uuid="neonize-group-events-test")
    client.translated = []
    client.event(neonize_events.JoinedGroupEv)(lambda _c, ev: client.translated.append(translate_joined(ev)))
    client.event(neonize_events.GroupInfoEv)(lambda _c, ev: client.translated.extend(translate_group_info(ev)))
    yield client
    detach_stop_on_collect(client)


def feed(client, event) -> list:
    """Serialise the event and hand it to the client's own entry point, as the Go library does."""
    data = event.SerializePartialToString()
    buf = ctypes.create_string_buffer(data, len(data))
    client.event.execute(client.uuid, ctypes.addressof(buf), len(data), neonize_events.EVENT_TO_INT[type(event)])
    translated, client.translated = client.translated, []
    return translated


@pytest.mark.parametrize("type_, reason_in, reason",
                         [("new", "", "created"), ("", "invite", "invite"), ("", "", "added")])
def test_joined_group_carries_the_group_and_how_we_got_in(events_client, type_, reason_in, reason):
    event = neonize_events.JoinedGroupEv(Reason=reason_in, Type=type_, GroupInfo=info_proto(), Sender=jid(ANA))
    assert feed(events_client, event) == [ga.GroupJoined(EXPECTED, reason, f"{ANA}@s.whatsapp.net")]


def test_one_group_info_notification_becomes_each_change_it_carries(events_client):
    event = neonize_events.GroupInfoEv(
        JID=jid(GROUP, "g.us"), Sender=jid(ANA), Name=N.GroupName(Name="New name"),
        Announce=N.GroupAnnounce(IsAnnounce=True), Join=[jid(BO)], Leave=[jid(LID, "lid")], Promote=[jid(ME)])
    group, by = f"{GROUP}@g.us", f"{ANA}@s.whatsapp.net"
    assert feed(events_client, event) == [
        ga.GroupInfoChanged(group, by, subject="New name", announce=True),
        ga.GroupParticipantsChanged(group, "add", (f"{BO}@s.whatsapp.net",), by),
        ga.GroupParticipantsChanged(group, "remove", (f"{LID}@lid",), by),
        ga.GroupParticipantsChanged(group, "promote", (f"{ME}@s.whatsapp.net",), by)]


def test_a_deleted_description_and_locked_are_settings(events_client):
    event = neonize_events.GroupInfoEv(JID=jid(GROUP, "g.us"), Topic=N.GroupTopic(TopicDeleted=True, TopicID="T2"),
                                       Locked=N.GroupLocked(isLocked=True))
    assert feed(events_client, event) == [ga.GroupInfoChanged(f"{GROUP}@g.us", None, description="", locked=True)]


# ---- a whole worker on a real session ------------------------------------------------------------------
class JoinedGroupsDouble:
    """Test double of the one network call a group list makes on a connected client: counts the calls and
    answers real GroupInfo protos."""

    def __init__(self, groups):
        self.groups, self.calls = groups, 0

    def get_joined_groups(self):
        self.calls += 1
        return self.groups


def test_a_ready_worker_loads_its_groups_once_and_keeps_them_by_events_and_sends_without_metadata(store, settings):
    from tests.conftest import send_and_wait, wait_until
    from tests.test_neonize_backend import HeldConnectionBackend, make_whatsmeow_file, start_worker
    from tests.test_neonize_backend import feed as feed_session
    from tests.test_neonize_send import WhatsAppDouble
    from tests.test_worker_hearing import RecordingSink
    from wamulti.backends.neonize.neonize_backend import NeonizeBackend
    from wamulti.clients.states import READY
    from wamulti.sessions import session_file

    real = NeonizeBackend(settings)
    make_whatsmeow_file(real, settings.data_dir / "source.session")
    real.close()
    backend, sink = HeldConnectionBackend(settings, sync_fallback=5), RecordingSink()
    worker = start_worker(store, backend, settings, jid=f"{ME}@s.whatsapp.net", events=sink)
    snap = session_file.read_snapshot(settings.data_dir / "source.session")
    store.save_snapshot("w1", snap.data, snap.sha256)
    worker.start()
    try:
        session = backend.wait_session(1)
        joined, sends = JoinedGroupsDouble([info_proto()]), WhatsAppDouble({})
        session.client.get_joined_groups, session.client.send_message = joined.get_joined_groups, sends.send_message
        feed_session(session, neonize_events.ConnectedEv(status=True))
        feed_session(session, neonize_events.OfflineSyncCompletedEv(Count=0))
        assert worker.wait_for_state({READY}, 5)
        wait_until(lambda: worker.groups.book.loaded_at is not None)
        [listed] = worker.groups.list()
        assert (listed.group_id, listed.size, listed.my_role) == (f"{GROUP}@g.us", 3, "superadmin")
        other = N.GroupInfo(JID=jid("120363000000000001", "g.us"), GroupName=N.GroupName(Name="Zoo"),
                            Participants=[N.GroupParticipant(JID=jid(ME)), N.GroupParticipant(JID=jid(ANA))])
        feed_session(session, neonize_events.JoinedGroupEv(GroupInfo=other, Sender=jid(ANA)))
        assert [s.subject for s in worker.groups.list()] == ["Team Berlin", "Zoo"]
        assert sink.of_type("group.joined")[0]["myRole"] == "member"
        for _ in range(5):
            send_and_wait(worker, f"{GROUP}@g.us", "hi all")
        assert joined.calls == 1 and len(sends.sent) == 5, "one list call per connect, none per send"
    finally:
        worker.stop()
        worker.join(10)
        backend.close()
