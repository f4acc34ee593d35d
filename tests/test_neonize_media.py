"""Incoming media on neonize: each kind mapped from real protobufs fed through a real NewClient's entry
point, and the download through the library's own `download_any`, with `FakeWhatsAppCdn` (a named
test double) standing in for the Go function that does the network round trip (DownloadAny).
"""

from __future__ import annotations

import ctypes
import hashlib
import io

import pytest

from wamulti.backends import backend_api as bk
from wamulti.backends.neonize.incoming import translate_message
from wamulti.backends.neonize.media_download import download_to
from wamulti.seams.neonize_internals import detach_stop_on_collect, go_library, replace_go_library

neonize_events = pytest.importorskip("neonize.events")
from neonize.client import NewClient  # noqa: E402
from neonize.exc import NeonizeError  # noqa: E402
from neonize.proto.Neonize_pb2 import (JID, DownloadReturnFunction, Message, MessageInfo,  # noqa: E402
                                       MessageSource)
from neonize.proto.waE2E import WAWebProtobufsE2E_pb2 as e2e  # noqa: E402

CONTENT = b"%PDF-1.7 the bytes of a file \x00\x01" * 1000
SHA = hashlib.sha256(CONTENT).digest()
COMMON = dict(fileSHA256=SHA, fileEncSHA256=b"\x02" * 32, mediaKey=b"\x03" * 32, directPath="/v/t62/abc",
              URL="https://mmg.whatsapp.net/v/t62/abc")


class FakeWhatsAppCdn:
    """Test double of the Go library's DownloadAny (the network round trip, decryption and hash checks):
    answers with `content` (or `error`) in the DownloadReturnFunction protobuf the real function
    returns; records each message it was asked for. Every other Go function is the real library's."""

    def __init__(self, library, content: bytes = CONTENT, error: str = ""):
        self._library, self.content, self.error = library, content, error
        self.asked: list = []

    def __getattr__(self, name):
        return getattr(self._library, name)

    def DownloadAny(self, uuid: bytes, data: bytes, size: int) -> bytes:
        self.asked.append(e2e.Message.FromString(data[:size]))
        return DownloadReturnFunction(Binary=b"" if self.error else self.content, Error=self.error).SerializeToString()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A real NewClient, never connected, whose handlers translate what it is fed."""
    client = NewClient(str(tmp_path_factory.mktemp("neonize-media") / "m.session"), uuid="neonize-media-test")
    client.translated = []
    client.event(neonize_events.MessageEv)(lambda _c, ev: client.translated.append(translate_message(ev)))
    yield client
    detach_stop_on_collect(client)


@pytest.fixture
def cdn(client):
    library = go_library(client)
    fake = FakeWhatsAppCdn(library)
    replace_go_library(client, fake)
    yield fake
    replace_go_library(client, library)


def feed(client, content: e2e.Message) -> bk.MessageReceived:
    sender = JID(User="4915123456789", Server="s.whatsapp.net")
    info = MessageInfo(MessageSource=MessageSource(Chat=sender, Sender=sender), ID="3EB0MEDIA", Timestamp=1764064800)
    data = Message(Info=info, Message=content).SerializePartialToString()
    buf = ctypes.create_string_buffer(data, len(data))
    client.event.execute(client.uuid, ctypes.addressof(buf), len(data), neonize_events.EVENT_TO_INT[neonize_events.MessageEv])
    return client.translated.pop()


KINDS = [
    ("imageMessage", e2e.ImageMessage(mimetype="image/jpeg", caption="view", JPEGThumbnail=b"t" * 500, **COMMON),
     "image", "image/jpeg", None),
    ("videoMessage", e2e.VideoMessage(mimetype="video/mp4", seconds=12, **COMMON), "video", "video/mp4", None),
    ("ptvMessage", e2e.VideoMessage(mimetype="video/mp4", **COMMON), "video", "video/mp4", None),
    ("audioMessage", e2e.AudioMessage(mimetype="audio/mpeg", **COMMON), "audio", "audio/mpeg", None),
    ("audioMessage", e2e.AudioMessage(mimetype="audio/ogg; codecs=opus", PTT=True, seconds=4, **COMMON),
     "voice", "audio/ogg; codecs=opus", None),
    ("documentMessage", e2e.DocumentMessage(mimetype="application/pdf", fileName="inv.pdf", **COMMON),
     "document", "application/pdf", "inv.pdf"),
    ("stickerMessage", e2e.StickerMessage(mimetype="image/webp", isAnimated=True, **COMMON),
     "sticker", "image/webp", None),
]


@pytest.mark.parametrize("field, part, kind, mimetype, file_name", KINDS)
def test_each_kind_carries_its_metadata_and_a_download_reference(client, field, part, kind, mimetype, file_name):
    part.fileLength = len(CONTENT)
    got = feed(client, e2e.Message(**{field: part}))
    media = got.media
    assert (got.kind, media.kind, media.mimetype, media.size, media.file_name, media.sha256) == (
        kind, kind, mimetype, len(CONTENT), file_name, SHA.hex())
    ref = e2e.Message.FromString(media.download)  # the media part alone, as the message it came in
    inner = getattr(ref, "videoMessage" if field == "ptvMessage" else field)
    assert (inner.directPath, inner.mediaKey, inner.fileSHA256) == (COMMON["directPath"], COMMON["mediaKey"], SHA)
    assert not inner.HasField("contextInfo") and b"t" * 500 not in media.download  # no thumbnail, no quote


def test_a_download_goes_through_download_any_and_lands_in_the_sink(client, cdn):
    media = feed(client, e2e.Message(documentMessage=e2e.DocumentMessage(
        mimetype="application/pdf", fileName="a.pdf", fileLength=len(CONTENT), **COMMON))).media
    sink = io.BytesIO()
    assert download_to(client, media, sink, 10 * len(CONTENT), NeonizeError) == len(CONTENT)
    assert sink.getvalue() == CONTENT
    assert [m.documentMessage.directPath for m in cdn.asked] == [COMMON["directPath"]]


def test_a_declared_size_over_the_limit_is_refused_before_anything_is_fetched(client, cdn):
    media = feed(client, e2e.Message(videoMessage=e2e.VideoMessage(
        mimetype="video/mp4", fileLength=50_000_000, **COMMON))).media
    with pytest.raises(bk.DownloadTooLarge) as caught:
        download_to(client, media, io.BytesIO(), 1_000_000, NeonizeError)
    assert caught.value.size == 50_000_000 and cdn.asked == []


def test_more_bytes_than_declared_and_allowed_write_nothing(client, cdn):
    media = bk.Media("image/jpeg", 10, kind="image", download=e2e.Message(
        imageMessage=e2e.ImageMessage(**COMMON)).SerializeToString())
    sink = io.BytesIO()
    with pytest.raises(bk.DownloadTooLarge):
        download_to(client, media, sink, 100, NeonizeError)
    assert sink.getvalue() == b"" and len(cdn.asked) == 1


def test_a_failed_download_is_download_failed_with_a_short_reason(client, cdn):
    cdn.error = "failed to download media: 404 " + "x" * 2000
    media = bk.Media("image/jpeg", 10, kind="image", download=e2e.Message(
        imageMessage=e2e.ImageMessage(**COMMON)).SerializeToString())
    with pytest.raises(bk.DownloadFailed) as caught:
        download_to(client, media, io.BytesIO(), 1000, NeonizeError)
    assert not isinstance(caught.value, bk.DownloadTooLarge)
    assert str(caught.value).startswith("failed to download media: 404") and len(str(caught.value)) < 300


@pytest.mark.parametrize("ref", [None, b"\xff\xff not a protobuf"])
def test_a_missing_or_unreadable_reference_fails_without_calling_the_library(client, cdn, ref):
    with pytest.raises(bk.DownloadFailed):
        download_to(client, bk.Media("image/jpeg", 10, kind="image", download=ref), io.BytesIO(), 1000, NeonizeError)
    assert cdn.asked == []


def test_a_session_that_never_connected_or_was_stopped_refuses_to_download(tmp_path):
    from wamulti.backends.neonize.neonize_backend import NeonizeBackend
    from wamulti.config import Settings

    backend = NeonizeBackend(Settings(api_key="k" * 16, data_dir=tmp_path, log_level="WARNING"))
    try:
        session = backend.new_session("dl", tmp_path / "dl.session", lambda event: None)
        media = bk.Media("image/jpeg", 10, kind="image", download=e2e.Message(
            imageMessage=e2e.ImageMessage(**COMMON)).SerializeToString())
        with pytest.raises(bk.DownloadFailed, match="not connected"):
            session.download(media, io.BytesIO(), 1000)
        session.stop()
        with pytest.raises(bk.DownloadFailed, match="not connected"):
            session.download(media, io.BytesIO(), 1000)
    finally:
        backend.close()
