"""Message actions on the neonize backend, offline: reactions, edits and revokes as the real protobufs
(field by field, and through the library's own builders); a read mark through the real
`client.mark_read` with only Go's `MarkRead` round trip replaced by a named test double; and whole
actions through a worker's queue on a real session whose network calls are test doubles."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from tests.test_neonize_backend import settings, store  # noqa: F401  (fixtures; skips without neonize)
from tests.test_neonize_send import BR_ACCOUNT, BR_ASKED, ready_worker  # noqa: F401  (fixture)
from tests.conftest import send_and_wait, wait_until
from wamulti.backends.backend_api import EditOut, ReactionOut, RevokeOut, TargetKey
from wamulti.backends.neonize import outgoing_actions, outgoing_protos
from wamulti.errors import Conflict
from wamulti.store.send_rows import FAILED
from wamulti.seams.neonize_internals import detach_stop_on_collect, go_library, replace_go_library
from wamulti.sending.action_payloads import ActionRequest
from wamulti.sending.sender import Sent

import neonize.client  # noqa: E402
import neonize.exc  # noqa: E402
from neonize.proto.Neonize_pb2 import JID  # noqa: E402
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message, ProtocolMessage  # noqa: E402
from neonize.utils.enum import ReceiptType  # noqa: E402

PHONE = "491511111111@s.whatsapp.net"
GROUP = "120363012345678901@g.us"
AUTHOR = "491522222222@s.whatsapp.net"


def key_fields(key) -> tuple:
    return key.remoteJID, key.fromMe, key.ID, key.participant if key.HasField("participant") else None


def test_a_reaction_keys_its_target_and_names_the_author_only_in_a_group():
    incoming = outgoing_protos.outgoing_message(ReactionOut(TargetKey("WA1", PHONE, False, AUTHOR), "👍"))
    assert [f.name for f, _ in incoming.ListFields()] == ["reactionMessage"]
    reaction = incoming.reactionMessage
    assert key_fields(reaction.key) == (PHONE, False, "WA1", None), "a 1:1 chat names no participant"
    assert reaction.text == "👍" and reaction.senderTimestampMS > 1_700_000_000_000
    in_group = outgoing_protos.outgoing_message(ReactionOut(TargetKey("WA2", GROUP, False, AUTHOR), "")).reactionMessage
    assert key_fields(in_group.key) == (GROUP, False, "WA2", AUTHOR) and in_group.text == ""
    own = outgoing_protos.outgoing_message(ReactionOut(TargetKey("WA3", GROUP, True, AUTHOR), "🎉")).reactionMessage
    assert key_fields(own.key) == (GROUP, True, "WA3", None)
    lid = outgoing_protos.outgoing_message(ReactionOut(TargetKey("WA4", "12345@lid", False, AUTHOR), "x"))
    assert key_fields(lid.reactionMessage.key) == ("12345@lid", False, "WA4", None)
    again = Message.FromString(incoming.SerializeToString())
    assert key_fields(again.reactionMessage.key) == (PHONE, False, "WA1", None) and again.reactionMessage.text == "👍"


def test_an_edit_is_the_librarys_edited_protocol_message_with_the_new_text():
    message = outgoing_protos.outgoing_message(EditOut(TargetKey("WA5", PHONE, True), "corrected"))
    protocol = message.editedMessage.message.protocolMessage
    assert protocol.type == ProtocolMessage.MESSAGE_EDIT
    assert key_fields(protocol.key) == (PHONE, True, "WA5", None)
    assert [f.name for f, _ in protocol.editedMessage.ListFields()] == ["conversation"]
    assert protocol.editedMessage.conversation == "corrected" and protocol.timestampMS > 1_700_000_000_000


def test_a_revoke_of_our_own_and_an_admins_revoke_of_someone_elses():
    own = outgoing_protos.outgoing_message(RevokeOut(TargetKey("WA6", PHONE, True))).protocolMessage
    assert own.type == ProtocolMessage.REVOKE and key_fields(own.key) == (PHONE, True, "WA6", None)
    own_in_group = outgoing_protos.outgoing_message(RevokeOut(TargetKey("WA7", GROUP, True))).protocolMessage
    assert key_fields(own_in_group.key) == (GROUP, True, "WA7", None)
    admin = outgoing_protos.outgoing_message(RevokeOut(TargetKey("WA8", GROUP, False, AUTHOR))).protocolMessage
    assert admin.type == ProtocolMessage.REVOKE and key_fields(admin.key) == (GROUP, False, "WA8", AUTHOR)


class GoMarkReadDouble:
    """Test double of the Go library's `MarkRead` round trip only (WhatsApp is not reachable): records
    what the real `client.mark_read` handed to Go and answers `error` (b"": none); every other Go
    function is the real one."""

    def __init__(self, real, error: bytes = b""):
        self._real, self._error = real, error
        self.calls: list[tuple] = []

    def MarkRead(self, uuid, ids, timestamp, chat, chat_len, sender, sender_len, receipt):  # noqa: N802 (Go's name)
        self.calls.append((ids, timestamp, JID.FromString(chat[:chat_len]), JID.FromString(sender[:sender_len]),
                           receipt))
        return self._error

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
def library_client(settings):  # noqa: F811
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    client = neonize.client.NewClient(str(settings.data_dir / "read.session"), uuid="read#marks")
    yield client
    detach_stop_on_collect(client)


def test_a_read_mark_goes_through_the_real_mark_read_as_one_receipt_for_the_ids(library_client):
    double = GoMarkReadDouble(go_library(library_client))
    replace_go_library(library_client, double)
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    outgoing_actions.mark_read(library_client, GROUP, AUTHOR, ("WA1", "WA2"), at)
    [(ids, timestamp, chat, sender, receipt)] = double.calls
    assert ids == b"WA1 WA2" and timestamp == int(at.timestamp())
    assert (chat.User, chat.Server, sender.User, sender.Server) == ("120363012345678901", "g.us", "491522222222",
                                                                    "s.whatsapp.net")
    assert receipt == ReceiptType.READ.value == b"read"


def test_a_refused_read_mark_raises_the_librarys_error(library_client):
    replace_go_library(library_client, GoMarkReadDouble(go_library(library_client), error=b"not connected"))
    with pytest.raises(neonize.exc.MarkReadError, match="not connected"):
        outgoing_actions.mark_read(library_client, PHONE, PHONE, ("WA1",), datetime.now(timezone.utc))


class RecordingMarkRead:
    """Test double of a connected client's mark_read (the network round trip): records its arguments."""

    def __init__(self):
        self.got: list[tuple] = []

    def __call__(self, *ids, chat, sender, receipt, timestamp=None):
        self.got.append((ids, chat, sender, receipt, timestamp))


class SentNow:
    """Test double around WhatsAppDouble's send: the same recording, with WhatsApp's timestamp now
    (the double's fixed one is long past the 15-minute edit window)."""

    def __init__(self, double):
        self._double = double

    def __call__(self, to, message, **extra):
        answer = self._double.send_message(to, message, **extra)
        answer.Timestamp = int(time.time())
        return answer


def test_actions_through_the_queue_act_on_whatsapps_id_of_the_send(ready_worker):  # noqa: F811
    worker, session, double, sink = ready_worker
    old = send_and_wait(worker, f"+{BR_ASKED}", "sent in 2025")
    with pytest.raises(Conflict, match="more than 15 minutes ago"):
        worker.act(ActionRequest("edit", f"+{BR_ASKED}", old.message_id, text="too late"), wait=5)
    double.sent.clear()
    session.client.send_message = SentNow(double)
    sent = send_and_wait(worker, f"+{BR_ASKED}", "Meeting at 10")
    chat = f"{BR_ACCOUNT}@s.whatsapp.net"
    for request in (ActionRequest("react", f"+{BR_ASKED}", sent.message_id, emoji="👍"),
                    ActionRequest("edit", chat, sent.message_id, text="Meeting at 11"),
                    ActionRequest("revoke", chat, sent.message_id)):
        answer = worker.act(request, wait=5)
        assert isinstance(answer, Sent) and answer.wa_message_id.startswith("3EB0WA") and answer.to == chat
    [_, (to1, reaction), (_, edit), (_, revoke)] = double.sent
    assert (to1.User, to1.Server) == (BR_ACCOUNT, "s.whatsapp.net")
    assert key_fields(reaction.reactionMessage.key) == (chat, True, sent.wa_message_id, None)
    protocol = edit.editedMessage.message.protocolMessage
    assert protocol.key.ID == sent.wa_message_id and protocol.editedMessage.conversation == "Meeting at 11"
    assert revoke.protocolMessage.type == ProtocolMessage.REVOKE and revoke.protocolMessage.key.ID == sent.wa_message_id


def test_a_read_mark_through_the_queue_reaches_the_librarys_mark_read(ready_worker):  # noqa: F811
    worker, session, double, sink = ready_worker
    recording = RecordingMarkRead()
    session.client.mark_read = recording
    chat = f"{BR_ACCOUNT}@s.whatsapp.net"
    answer = worker.act(ActionRequest("read", chat, "WAIN1", message_ids=("WAIN1", "WAIN2")), wait=5)
    assert isinstance(answer, Sent) and answer.wa_message_id is None
    [(ids, chat_jid, sender, receipt, timestamp)] = recording.got
    assert ids == ("WAIN1", "WAIN2") and receipt is ReceiptType.READ and timestamp > 1_700_000_000
    assert (chat_jid.User, sender.User) == (BR_ACCOUNT, BR_ACCOUNT), "in a 1:1 chat the sender is the chat"
    assert [d for d in sink.of_type("message.ack") if d["messageId"] == answer.message_id] == [], "no message: no ack"


def test_an_action_on_a_send_refused_by_whatsapp_is_refused_naming_it(ready_worker, store):  # noqa: F811
    worker, session, double, sink = ready_worker

    def refuse(to, message, **extra):
        raise neonize.exc.SendMessageError("server returned error 479")
    session.client.send_message = refuse
    queued = worker.submit(f"+{BR_ASKED}", "never")
    wait_until(lambda: store.get_send(queued.message_id).state == FAILED)
    refused = rf"{queued.message_id}' was not sent \(upstream_error\), so it cannot be reacted to"
    with pytest.raises(Conflict, match=refused):
        worker.act(ActionRequest("react", f"+{BR_ASKED}", queued.message_id, emoji="👍"), wait=5)
