"""Sending on the neonize backend, offline: the real Message and JID protos, real IsOnWhatsAppResponse
protos, what the real (unconnected) library does, and a whole send through a worker on a real
session whose two network calls are replaced by a named test double (a connected client is impossible
here: WhatsApp is not reachable)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.conftest import send_and_wait
from tests.test_neonize_backend import HeldConnectionBackend, feed, make_whatsmeow_file, start_worker  # skips offline
from tests.test_neonize_backend import settings, store  # noqa: F401  (fixtures)
from tests.test_neonize_events import receipt
from tests.test_worker_hearing import RecordingSink
from wamulti.sessions import session_file
from wamulti.backends.neonize import outgoing
from wamulti.backends.neonize.neonize_backend import NeonizeBackend
from wamulti.errors import RecipientNotOnWhatsApp
from wamulti.seams.neonize_internals import detach_stop_on_collect
from wamulti.clients.states import READY

import neonize  # noqa: E402  (after the skip above)
import neonize.client  # noqa: E402
import neonize.exc  # noqa: E402
from neonize import events as ev  # noqa: E402
from neonize.exc import IsOnWhatsAppError  # noqa: E402
from neonize.proto.Neonize_pb2 import JID, IsOnWhatsAppResponse, Receipt, SendResponse  # noqa: E402
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message  # noqa: E402

BR_ASKED, BR_ACCOUNT = "551112345678", "5511912345678"  # the 9th digit WhatsApp knows and the caller left out


def answer(query: str, user: str = "", server: str = "s.whatsapp.net", is_in: bool = True) -> IsOnWhatsAppResponse:
    return IsOnWhatsAppResponse(Query=query, IsIn=is_in, JID=JID(User=user, Server=server) if user else None)


# ---- the protos --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["hi", "call @4915123456789 now", "see @120363012345678901@g.us", "👋🏽 e\u0301"])
def test_a_text_is_a_conversation_only_without_mentions_or_context(text):
    message = outgoing.text_message(text)
    assert isinstance(message, Message)
    assert [field.name for field, _ in message.ListFields()] == ["conversation"]
    again = Message.FromString(message.SerializeToString())
    assert again.conversation == text and not again.HasField("extendedTextMessage")


@pytest.mark.parametrize("jid, server", [("4915123456789@s.whatsapp.net", "s.whatsapp.net"),
                                         ("120363012345678901@g.us", "g.us"), ("123456789012345@lid", "lid")])
def test_a_jid_keeps_its_server_both_ways(jid, server):
    proto = outgoing.jid_proto(jid)
    assert (proto.User, proto.Server, proto.Device) == (jid.split("@")[0], server, 0)
    assert outgoing.jid_string(proto) == jid


def test_the_answer_gives_the_jid_whatsapp_has_which_may_be_another_form_or_a_lid():
    pick = outgoing.jid_from_answers
    assert pick([answer(f"+{BR_ASKED}", BR_ACCOUNT)], BR_ASKED) == f"{BR_ACCOUNT}@s.whatsapp.net"
    assert pick([answer("+5215512345678", "123456789012345", "lid")], "5215512345678") == "123456789012345@lid"
    assert pick([answer("+4915100000000", is_in=False)], "4915100000000") is None
    assert pick([], "4915100000000") is None
    two = [answer("+4915100000001", "4915100000001"), answer("+4915100000002", "4915100000002")]
    assert pick(two, "4915100000002") == "4915100000002@s.whatsapp.net", "matched by its query"
    assert pick([answer("4915100000003", "4915100000003")], "4915100000003") == "4915100000003@s.whatsapp.net"
    assert pick([answer("+4915100000004")], "4915100000004") == "4915100000004@s.whatsapp.net", "in, JID left out"


# ---- the real library, unconnected -------------------------------------------------------------
def test_the_real_unconnected_library_fails_both_calls_as_client_is_nil_not_as_not_on_whatsapp(settings):
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    client = neonize.client.NewClient(str(settings.data_dir / "nil.session"), uuid="nil#send")
    try:
        with pytest.raises(neonize.exc.NeonizeError, match="client is nil"):
            outgoing.lookup_phone(client, BR_ASKED, neonize.exc.NeonizeError)
        with pytest.raises(neonize.exc.SendMessageError, match="client is nil"):
            outgoing.send_text(client, f"{BR_ACCOUNT}@s.whatsapp.net", "hi")
    finally:
        detach_stop_on_collect(client)  # never connected: nothing on the Go side to stop


def test_an_empty_answer_is_the_librarys_words_for_no_account():
    library = Path(neonize.__file__).parent / "neonize-linux-amd64.so"
    assert outgoing.EMPTY_ANSWER.encode() in library.read_bytes(), "the words are in the installed library"

    class EmptyAnswerClient:
        """Test double: raises what neonize 0.5.2 raises when WhatsApp's answer names no user."""

        def is_on_whatsapp(self, *numbers):
            raise IsOnWhatsAppError(outgoing.EMPTY_ANSWER)

    assert outgoing.lookup_phone(EmptyAnswerClient(), "4915100000000", neonize.exc.NeonizeError) is None


# ---- a whole send through a worker on a real session -------------------------------------------
class WhatsAppDouble:
    """Test double of the two network calls of a connected neonize client: records what the real
    session passes and answers with real protos (the rest of the client stays the real one)."""

    def __init__(self, accounts: dict[str, tuple[str, str]]):
        self.accounts = accounts  # asked digits -> (user, server) of the account
        self.lookups: list[tuple[str, ...]] = []
        self.sent: list[tuple[JID, object]] = []
        self._lock = threading.Lock()

    def is_on_whatsapp(self, *numbers: str):
        with self._lock:
            self.lookups.append(numbers)
        return [answer(n, *self.accounts[n[1:]]) if n[1:] in self.accounts else answer(n, is_in=False)
                for n in numbers]

    def send_message(self, to, message, **extra):
        with self._lock:
            self.sent.append((to, message))
            return SendResponse(ID=f"3EB0WA{len(self.sent):016X}", Timestamp=1_764_000_000)


@pytest.fixture
def ready_worker(store, settings):
    real = NeonizeBackend(settings)
    make_whatsmeow_file(real, settings.data_dir / "source.session")  # a paired client needs its keys
    real.close()
    backend = HeldConnectionBackend(settings, sync_fallback=5)
    sink = RecordingSink()
    worker = start_worker(store, backend, settings, jid="4915123456789@s.whatsapp.net", events=sink)
    snap = session_file.read_snapshot(settings.data_dir / "source.session")
    store.save_snapshot("w1", snap.data, snap.sha256)
    worker.start()
    session = backend.wait_session(1)
    double = WhatsAppDouble({BR_ASKED: (BR_ACCOUNT, "s.whatsapp.net")})
    session.client.is_on_whatsapp, session.client.send_message = double.is_on_whatsapp, double.send_message
    feed(session, ev.ConnectedEv(status=True))
    feed(session, ev.OfflineSyncCompletedEv(Count=0))
    assert worker.wait_for_state({READY}, 5)
    yield worker, session, double, sink
    worker.stop()
    worker.join(10)
    backend.close()


def test_a_number_is_resolved_once_and_the_text_goes_to_the_jid_whatsapp_gave(ready_worker):
    worker, session, double, sink = ready_worker
    first = send_and_wait(worker, f"+{BR_ASKED}", "oi @5511987654321")
    second = send_and_wait(worker, f"+{BR_ASKED}", "de novo")
    assert double.lookups == [(f"+{BR_ASKED}",)], "asked once, with the '+' whatsmeow wants"
    for to, message in double.sent:
        assert (to.User, to.Server) == (BR_ACCOUNT, "s.whatsapp.net")
        assert isinstance(message, Message) and [f.name for f, _ in message.ListFields()] == ["conversation"]
    assert first.to == f"{BR_ACCOUNT}@s.whatsapp.net" and double.sent[0][1].conversation == "oi @5511987654321"
    assert first.wa_message_id.startswith("3EB0WA") and first.message_id != first.wa_message_id
    assert second.message_id != first.message_id
    feed(session, receipt(Receipt.READ, ids=(first.wa_message_id,)))
    acks = [(d["id"], d["messageId"], d["status"]) for d in sink.of_type("message.ack")]
    assert acks == [(first.wa_message_id, first.message_id, "server"),
                    (second.wa_message_id, second.message_id, "server"),
                    (first.wa_message_id, first.message_id, "read")], "a real receipt carries the caller's id"


def test_a_number_without_an_account_is_refused_and_nothing_is_sent(ready_worker):
    worker, session, double, sink = ready_worker
    for _ in range(2):
        with pytest.raises(RecipientNotOnWhatsApp):
            send_and_wait(worker, "+4915100000000", "hello?")
    assert len(double.lookups) == 1, "the 'no' is remembered too"
    assert double.sent == [] and sink.of_type("message.ack") == []
    group = send_and_wait(worker, "120363012345678901@g.us", "hi all")
    assert (double.sent[0][0].Server, group.to) == ("g.us", "120363012345678901@g.us")
    assert len(double.lookups) == 1, "a JID is sent as given, without a lookup"
