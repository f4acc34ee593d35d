"""Sending every kind on the neonize backend, offline: the real protobufs each kind is built as,
field by field; the upload through the real library's `client.upload` with only the Go round trip
replaced by a named test double (it records the bytes Go was given and answers a real
UploadReturnFunction); and a whole media reply through a real session's upload and send_message."""

from __future__ import annotations

import hashlib

import pytest

from tests.test_neonize_backend import settings, store  # noqa: F401  (fixtures; skips without neonize)
from tests.test_neonize_send import ready_worker  # noqa: F401  (fixture)
from wamulti.backends.backend_api import (ContactOut, LocationOut, MediaOut, QuotedRef, TextOut, UploadRef)
from wamulti.backends.neonize import outgoing_protos
from wamulti.seams.neonize_internals import detach_stop_on_collect, go_library, replace_go_library

import neonize.client  # noqa: E402
from neonize.proto.Neonize_pb2 import UploadResponse, UploadReturnFunction  # noqa: E402
from neonize.utils.enum import MediaType  # noqa: E402

REF = UploadRef(url="https://mmg.whatsapp.net/v/t62/abc", direct_path="/v/t62/abc?ccb=11", media_key=b"K" * 32,
                file_enc_sha256=b"E" * 32, file_sha256=b"S" * 32, file_length=1234)
JPEG = b"\xff\xd8\xff\xe0thumb\xff\xd9"
QUOTE = QuotedRef("3EB0QUOTED", "491511111111@s.whatsapp.net", "491511111111@s.whatsapp.net", "the question")


def file_fields(proto) -> tuple:
    return (proto.URL, proto.directPath, proto.mediaKey, proto.fileEncSHA256, proto.fileSHA256, proto.fileLength)


EXPECTED_FILE = (REF.url, REF.direct_path, REF.media_key, REF.file_enc_sha256, REF.file_sha256, REF.file_length)


def test_an_image_and_a_video_carry_caption_size_thumbnail_and_the_upload():
    image = outgoing_protos.outgoing_message(MediaOut("image", REF, "image/jpeg", caption="Look", width=640,
                                                      height=480, thumbnail=JPEG)).imageMessage
    assert file_fields(image) == EXPECTED_FILE
    assert (image.mimetype, image.caption, image.width, image.height, image.JPEGThumbnail) == (
        "image/jpeg", "Look", 640, 480, JPEG)
    assert not image.HasField("contextInfo")
    video = outgoing_protos.outgoing_message(MediaOut("video", REF, "video/mp4", caption="clip", seconds=12,
                                                      width=1280, height=720, thumbnail=JPEG)).videoMessage
    assert file_fields(video) == EXPECTED_FILE
    assert (video.seconds, video.width, video.height, video.JPEGThumbnail, video.caption) == (12, 1280, 720, JPEG, "clip")


def test_a_voice_note_is_ptt_audio_with_seconds_and_waveform_and_plain_audio_is_not_ptt():
    waveform = bytes(i % 101 for i in range(64))
    voice = outgoing_protos.outgoing_message(MediaOut("voice", REF, "audio/ogg; codecs=opus", seconds=3,
                                                      waveform=waveform)).audioMessage
    assert file_fields(voice) == EXPECTED_FILE
    assert (voice.PTT, voice.seconds, voice.waveform, voice.mimetype) == (True, 3, waveform, "audio/ogg; codecs=opus")
    audio = outgoing_protos.outgoing_message(MediaOut("audio", REF, "audio/mpeg", seconds=200)).audioMessage
    assert (audio.PTT, audio.seconds, audio.HasField("waveform")) == (False, 200, False)


def test_a_document_keeps_its_name_and_a_sticker_is_a_webp_of_512():
    doc = outgoing_protos.outgoing_message(MediaOut("document", REF, "application/pdf", caption="Invoice",
                                                    file_name="Invoice 4711.pdf")).documentMessage
    assert file_fields(doc) == EXPECTED_FILE
    assert (doc.fileName, doc.title, doc.caption, doc.mimetype) == ("Invoice 4711.pdf", "Invoice 4711.pdf",
                                                                    "Invoice", "application/pdf")
    sticker = outgoing_protos.outgoing_message(MediaOut("sticker", REF, "image/webp", width=512,
                                                        height=512)).stickerMessage
    assert file_fields(sticker) == EXPECTED_FILE
    assert (sticker.mimetype, sticker.width, sticker.height) == ("image/webp", 512, 512)


def test_location_contact_and_replies_of_every_kind():
    place = outgoing_protos.outgoing_message(LocationOut(52.5163, 13.3777, "Tor", "Pariser Platz", reply_to=QUOTE))
    loc = place.locationMessage
    assert (loc.degreesLatitude, loc.degreesLongitude, loc.name, loc.address) == (52.5163, 13.3777, "Tor",
                                                                                    "Pariser Platz")
    assert (loc.contextInfo.stanzaID, loc.contextInfo.participant) == ("3EB0QUOTED", "491511111111@s.whatsapp.net")
    assert loc.contextInfo.quotedMessage.conversation == "the question"
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n"
    contact = outgoing_protos.outgoing_message(ContactOut("Ada", card)).contactMessage
    assert (contact.displayName, contact.vcard, contact.HasField("contextInfo")) == ("Ada", card, False)
    reply = outgoing_protos.outgoing_message(TextOut("yes", reply_to=QuotedRef("WAID1", "", "1203@g.us")))
    assert reply.extendedTextMessage.text == "yes" and reply.extendedTextMessage.contextInfo.stanzaID == "WAID1"
    assert not reply.extendedTextMessage.contextInfo.HasField("participant"), "a group's sender is not known"
    assert not reply.extendedTextMessage.contextInfo.HasField("quotedMessage")
    plain = outgoing_protos.outgoing_message(TextOut("hi"))
    assert [f.name for f, _ in plain.ListFields()] == ["conversation"]
    media_reply = outgoing_protos.outgoing_message(MediaOut("image", REF, "image/png", reply_to=QUOTE))
    assert media_reply.imageMessage.contextInfo.stanzaID == "3EB0QUOTED"


class GoUploadDouble:
    """Test double of the Go library's `Upload` round trip only (WhatsApp's media servers are not
    reachable): records what the real `client.upload` handed to Go and answers a real
    UploadReturnFunction; every other Go function is the real one."""

    def __init__(self, real):
        self._real = real
        self.calls: list[tuple[object, int, int]] = []

    def Upload(self, uuid, binary, length, media_type):  # noqa: N802 (Go's name)
        self.calls.append((binary, length, media_type))
        answer = UploadResponse(url="https://mmg.whatsapp.net/x", DirectPath="/x", Handle="h1", MediaKey=b"k" * 32,
                                FileEncSHA256=b"e" * 32, FileSHA256=hashlib.sha256(binary).digest(),
                                FileLength=length)
        return UploadReturnFunction(UploadResponse=answer).SerializeToString()

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("kind, media_type", [("image", MediaType.MediaImage), ("sticker", MediaType.MediaImage),
                                              ("video", MediaType.MediaVideo), ("voice", MediaType.MediaAudio),
                                              ("audio", MediaType.MediaAudio), ("document", MediaType.MediaDocument)])
def test_the_upload_gives_the_real_library_bytes_never_a_path(settings, tmp_path, kind, media_type):  # noqa: F811
    data = b"%PDF-1.4 not really " + bytes(range(256))
    path = tmp_path / "https:example.com-file.pdf"  # a name the library would fetch if given as a str
    path.write_bytes(data)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    client = neonize.client.NewClient(str(settings.data_dir / "upload.session"), uuid=f"upload#{kind}")
    double = GoUploadDouble(go_library(client))
    replace_go_library(client, double)
    try:
        ref = outgoing_protos.upload_file(client, path, kind)
    finally:
        detach_stop_on_collect(client)
    [(binary, length, sent_type)] = double.calls
    assert isinstance(binary, bytes) and binary == data and length == len(data) and sent_type == media_type.value
    assert ref == UploadRef("https://mmg.whatsapp.net/x", "/x", b"k" * 32, b"e" * 32, hashlib.sha256(data).digest(),
                            len(data))


class RecordingUpload:
    """Test double of a connected client's upload (the network round trip): records the bytes."""

    def __init__(self):
        self.got: list[tuple[bytes, MediaType]] = []

    def __call__(self, binary, media_type=None):
        self.got.append((binary, media_type))
        return UploadResponse(url="https://mmg.whatsapp.net/y", DirectPath="/y", Handle="h2", MediaKey=b"m" * 32,
                              FileEncSHA256=b"f" * 32, FileSHA256=hashlib.sha256(binary).digest(),
                              FileLength=len(binary))


def test_a_real_session_uploads_and_sends_a_voice_reply(ready_worker, tmp_path):  # noqa: F811
    worker, session, double, sink = ready_worker
    recording = RecordingUpload()
    session.client.upload = recording
    note = tmp_path / "note.ogg"
    note.write_bytes(b"OggS" + b"\x01" * 100)
    ref = session.upload(note, "voice")
    assert recording.got == [(note.read_bytes(), MediaType.MediaAudio)] and ref.direct_path == "/y"
    sent = session.send_message("491522222222@s.whatsapp.net", MediaOut(
        "voice", ref, "audio/ogg; codecs=opus", seconds=2, waveform=bytes(64), reply_to=QUOTE))
    [(to, message)] = double.sent
    assert (to.User, to.Server) == ("491522222222", "s.whatsapp.net") and sent.message_id.startswith("3EB0WA")
    audio = message.audioMessage
    assert (audio.PTT, audio.seconds, audio.directPath, audio.contextInfo.stanzaID) == (True, 2, "/y", "3EB0QUOTED")
