"""REJECT_CALLS: an incoming call is rejected through the session and answered through the send queue, as
the settings say; failures are logged, never raised (the call rings out on its own)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from wamulti.backends.backend_api import SendFailed
from wamulti.backends.conversation_api import CallOffered
from wamulti.clients.calls import CallPolicy, answer_call
from wamulti.config import ConfigError, settings_from_env
from wamulti.errors import QueueFull

CALL = CallOffered("C1", "123456789012345@lid", None, False, datetime.now(timezone.utc))


class RecordingSession:
    """Test double of a backend session: records reject_call, optionally failing it."""

    def __init__(self, fail: bool = False):
        self.rejected, self.fail = [], fail

    def reject_call(self, caller, call_id):
        self.rejected.append((caller, call_id))
        if self.fail:
            raise SendFailed("websocket not connected")


def run(policy, session, queue_fails=False):
    queued = []

    def queue_text(to, text):
        if queue_fails:
            raise QueueFull("c", 1000)
        queued.append((to, text))

    answer_call("c", policy, CALL, session, queue_text)
    return queued


def test_off_does_nothing():
    session = RecordingSession()
    assert run(CallPolicy(), session) == [] and session.rejected == []


def test_on_rejects_with_the_callers_jid_and_queues_the_reply_to_it():
    session = RecordingSession()
    assert run(CallPolicy(True, "Please write."), session) == [("123456789012345@lid", "Please write.")]
    assert session.rejected == [("123456789012345@lid", "C1")]
    assert run(CallPolicy(True, None), RecordingSession()) == [], "no message: no reply"


def test_a_failed_reject_still_replies_and_a_full_queue_is_only_logged(caplog):
    assert run(CallPolicy(True, "hi"), RecordingSession(fail=True)) == [("123456789012345@lid", "hi")]
    assert run(CallPolicy(True, "hi"), RecordingSession(), queue_fails=True) == []
    assert "not rejected" in caplog.text and "not queued" in caplog.text


def test_the_settings():
    settings = settings_from_env({"REJECT_CALLS": "on", "REJECT_CALLS_MESSAGE": " Busy "})
    assert (settings.reject_calls, settings.reject_calls_message) == (True, "Busy")
    assert settings_from_env({}).reject_calls is False
    for env in ({"REJECT_CALLS": "yes"}, {"REJECT_CALLS_MESSAGE": "x" * 4097}):
        with pytest.raises(ConfigError):
            settings_from_env(env)
