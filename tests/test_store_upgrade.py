"""A database made by the previous release (commit 7af655f: migrations 1-6, before media) upgrades
cleanly to this one (7 media, 8 outbound payload, 9 media sources and events.media_id), on SQLite
and on real MariaDB: the old release's own code, taken from git, writes the rows in a child process;
this release opens the same database, reads them, and uses what the new migrations added."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import timedelta

import pytest

from tests.server_process import ROOT
from wamulti.config import Settings
from wamulti.hearing.event_model import new_event_id
from wamulti.media.library import MediaLibrary
from wamulti.sending.sender import new_message_id
from wamulti.store import open_store
from wamulti.store.client_rows import utcnow
from wamulti.store.event_rows import PENDING, EventRow
from wamulti.store.media_source_rows import MediaSourceRow
from wamulti.store.send_rows import OutboundRow

PREVIOUS_RELEASE = "7af655f"
OLD_WRITER = """
import json, sys
from datetime import timedelta
from wamulti.config import Settings
from wamulti.store import open_store
from wamulti.store.client_rows import utcnow
from wamulti.store.event_rows import EventRow
from wamulti.store.send_rows import OutboundRow
from wamulti.store.store_api import ClientRecord
settings = Settings(**json.loads(sys.argv[1]))
store = open_store(settings, wait_seconds=10)
store.create_client(ClientRecord("old", phone="4915100000001", jid="4915100000001@s.whatsapp.net", state="READY"))
store.save_snapshot("old", b"session bytes", "ab" * 32)
store.enqueue_send(OutboundRow("OLDSEND1", "old", "+4915100000002", "queued before the upgrade"), 10,
                   utcnow() - timedelta(days=1))
now = utcnow()
store.add_events([EventRow("evt_old1", "old", "message", '{"old": true}', "pending", created_at=now, queued_at=now,
                           next_at=now)])
store.close()
"""


def previous_release(tmp_path):
    """The previous release's tree, from git (skipped where the history is not there, e.g. a shallow clone)."""
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", PREVIOUS_RELEASE, "wamulti"], cwd=ROOT,
                                 capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"commit {PREVIOUS_RELEASE} is not in this checkout's history")
    tree = tmp_path / "previous"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


@pytest.fixture(params=["sqlite", "mysql"])
def old_database(request, tmp_path):
    """Settings of a database the previous release made and wrote to."""
    if request.param == "mysql":
        server = request.getfixturevalue("mariadb")
        settings = server.settings(server.new_database())
        values = {"api_key": "t" * 16, "db_host": settings.db_host, "db_port": settings.db_port,
                  "db_user": settings.db_user, "db_password": settings.db_password, "db_name": settings.db_name}
    else:
        settings = Settings(api_key="t" * 16, data_dir=tmp_path / "data")
        values = {"api_key": "t" * 16, "data_dir": str(tmp_path / "data")}
    env = {**os.environ, "PYTHONPATH": str(previous_release(tmp_path))}
    subprocess.run([sys.executable, "-c", OLD_WRITER, json.dumps(values)], env=env, check=True, timeout=120,
                   cwd=tmp_path)
    return settings


def test_a_database_of_the_previous_release_upgrades_and_keeps_its_rows(old_database, tmp_path):
    store = open_store(old_database, wait_seconds=10)
    try:
        [client] = store.list_clients()
        assert (client.client_id, client.state) == ("old", "READY")
        assert store.load_snapshot("old").data == b"session bytes"
        old_send = store.get_send("OLDSEND1")
        assert (old_send.state, old_send.body, old_send.payload, old_send.media_id) == (
            "queued", "queued before the upgrade", None, None)
        assert store.media_ids_in_undelivered_events(["mx"]) == set(), "the old event has no media"
        media = MediaLibrary.from_settings(Settings(api_key="t" * 16, data_dir=tmp_path / "blobs"), store)
        record = media.store_stream(io.BytesIO(b"%PDF-1.4 new"), file_name="n.pdf", client_id="old", max_bytes=1 << 20)
        store.enqueue_send(OutboundRow(new_message_id(), "old", "+4915100000002", "", payload='{"media": 1}',
                                       media_id=record.media_id), 10, utcnow() - timedelta(days=1))
        store.save_media_source(MediaSourceRow(record.media_id, "old", "3EB0NEW", "c@s.whatsapp.net", "document",
                                               b"ref", utcnow()))
        now = utcnow()
        store.add_events([EventRow(new_event_id(), "old", "message", "{}", PENDING, created_at=now, queued_at=now,
                                   next_at=now, media_id=record.media_id)])
        assert store.media_ids_in_open_sends([record.media_id]) == {record.media_id}
        assert store.media_ids_in_undelivered_events([record.media_id]) == {record.media_id}
        assert store.get_media_source(record.media_id).message_id == "3EB0NEW"
        assert [s.message_id for s in store.open_sends("old")][0] == "OLDSEND1", "the old send is still first"
    finally:
        store.close()
