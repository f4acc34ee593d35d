"""wamulti/transcoding on real ffmpeg and Pillow: every audio encoding a caller may upload becomes an
OGG/Opus voice note, images become stickers and thumbnails, videos give their facts; bad input is a
ConversionFailed with a clean message. The outputs are checked by ffprobe and Pillow, not by the code
that made them."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from PIL import Image

from tests.media_samples import (AUDIO_ENCODINGS, BURST_SECONDS, VIDEO_SECONDS, VIDEO_SIZE, ffmpeg, ffprobe,
                                 lavfi, make_audio, make_images, make_video, rotated)
from wamulti.transcoding import (ConversionFailed, audio_seconds, image_facts, sticker, video_facts,
                                 voice_note)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Every sample input, made once for the module."""
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is not installed: CI must run the transcoding tests (./scripts/test installs it)")
        pytest.skip("ffmpeg is not installed (./scripts/test installs it)")
    folder = tmp_path_factory.mktemp("media")
    video = make_video(folder)
    return {**make_audio(folder), **make_images(folder), "clip.mp4": video,
            "upright.mp4": rotated(video, folder / "upright.mp4")}


def assert_clean(message: str, *paths) -> None:
    """A caller-safe message: one sentence, no path, none of ffmpeg's own log prefixes."""
    assert "\n" not in message and "@ 0x" not in message and "/" not in message, message
    for path in paths:
        assert str(path) not in message and path.name not in message


@pytest.mark.parametrize("name", sorted(AUDIO_ENCODINGS))
def test_voice_note_from_every_upload_is_mono_opus_in_ogg(media, tmp_path, name):
    dest = tmp_path / "voice"
    facts = voice_note(media[name], dest)
    probed = ffprobe(dest)
    (stream,) = probed["streams"]
    assert (probed["format"]["format_name"], stream["codec_name"], stream["channels"]) == ("ogg", "opus", 1)
    assert facts["mimetype"] == "audio/ogg; codecs=opus"
    assert abs(facts["seconds"] - BURST_SECONDS) <= 1
    assert abs(float(probed["format"]["duration"]) - BURST_SECONDS) <= 1


@pytest.mark.parametrize("name", ["burst.mp3", "burst.m4a", "burst.flac"])
def test_the_waveform_follows_the_audio(media, tmp_path, name):
    waveform = voice_note(media[name], tmp_path / "voice")["waveform"]
    assert len(waveform) == 64 and all(isinstance(v, int) and 0 <= v <= 100 for v in waveform)
    loud, quiet = waveform[:30], waveform[34:]  # the tone fills the first half, silence the second
    assert min(loud) >= 60, waveform
    assert max(quiet) <= 5, waveform
    assert max(waveform) == 100


def test_the_duration_counts_whole_seconds_rounded_up(media, tmp_path):
    short = lavfi(tmp_path / "short.wav", "sine=frequency=300:duration=2.4")
    assert voice_note(short, tmp_path / "voice")["seconds"] == 3
    assert audio_seconds(short) == 3
    assert audio_seconds(media["burst.mp3"]) == BURST_SECONDS
    assert audio_seconds(media["burst.webm"]) == BURST_SECONDS


def test_the_name_plays_no_part(media, tmp_path):
    """An MP3 stored under an image's name, or under no extension at all, is still read as MP3."""
    for name in ("photo.png", "noextension"):
        disguised = tmp_path / name
        shutil.copy(media["burst.mp3"], disguised)
        assert voice_note(disguised, tmp_path / "voice")["seconds"] == BURST_SECONDS


def test_garbage_and_truncated_input_fail_cleanly(media, tmp_path):
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(os.urandom(4096))
    truncated = tmp_path / "cut.m4a"
    truncated.write_bytes(media["burst.m4a"].read_bytes()[:3000])
    for src, words in ((garbage, "not audio or video"), (truncated, "truncated")):
        with pytest.raises(ConversionFailed) as failed:
            voice_note(src, tmp_path / "voice")
        assert failed.value.message.startswith("Could not make a voice note: ")
        assert words in failed.value.message
        assert_clean(failed.value.message, src, tmp_path)


def test_a_playlist_cannot_make_ffmpeg_read_other_files(tmp_path):
    """An HLS playlist pointing at a local file is refused by format, whatever its name says."""
    playlist = tmp_path / "voice.mp3"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n/etc/passwd\n#EXT-X-ENDLIST\n")
    with pytest.raises(ConversionFailed, match="not in a format this service converts") as failed:
        voice_note(playlist, tmp_path / "voice")
    assert_clean(failed.value.message, playlist)


def test_a_file_without_audio_is_no_voice_note(media, tmp_path):
    silent = tmp_path / "silent.mp4"
    ffmpeg("-i", str(media["clip.mp4"]), "-an", "-c", "copy", "-y", str(silent))
    with pytest.raises(ConversionFailed, match="no audio stream"):
        voice_note(silent, tmp_path / "voice")
    with pytest.raises(ConversionFailed, match="no audio stream"):
        audio_seconds(silent)
    with pytest.raises(ConversionFailed, match="not an image"):
        sticker(media["burst.mp3"], tmp_path / "sticker")


@pytest.mark.parametrize("name", ["wide.png", "photo.jpg", "tall.gif", "square.webp"])
def test_stickers_are_512_square_webp(media, tmp_path, name):
    dest = tmp_path / "sticker"
    assert sticker(media[name], dest) == {"mimetype": "image/webp", "width": 512, "height": 512}
    (stream,) = ffprobe(dest)["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("webp", 512, 512)
    assert dest.stat().st_size <= 100 * 1024


def test_a_sticker_keeps_the_aspect_and_pads_with_transparency(media, tmp_path):
    """wide.png is 300x150, opaque red inside a 20 px transparent border: scaled by 512/300 it fills
    the width and a band of 256 rows in the middle; above and below is transparent."""
    dest = tmp_path / "sticker"
    sticker(media["wide.png"], dest)
    with Image.open(dest) as made:
        picture = made.convert("RGBA")
    assert picture.getpixel((256, 10))[3] == 0  # padding above the picture
    assert picture.getpixel((256, 500))[3] == 0  # and below
    red, green, blue, alpha = picture.getpixel((256, 256))
    assert alpha == 255 and red > 150 and green < 80  # the picture, centred
    assert picture.getbbox()[2] - picture.getbbox()[0] > 400  # the border aside, the width is filled


def test_image_facts_give_the_size_and_a_small_jpeg(media):
    facts = image_facts(media["photo.jpg"])
    assert (facts["width"], facts["height"]) == (640, 480)
    with Image.open(io.BytesIO(facts["thumbnail"])) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (72, 54)
    assert len(facts["thumbnail"]) < 8 * 1024
    gif = image_facts(media["tall.gif"])
    with Image.open(io.BytesIO(gif["thumbnail"])) as thumbnail:
        assert (gif["width"], gif["height"], thumbnail.size) == (100, 200, (36, 72))


def test_image_facts_show_a_turned_photo_upright(tmp_path):
    """A phone photo stored landscape with EXIF orientation 6 (shown turned a quarter) is portrait."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "turned.jpg"
    Image.new("RGB", (400, 200), (10, 10, 10)).save(photo, exif=exif.tobytes())
    facts = image_facts(photo)
    with Image.open(io.BytesIO(facts["thumbnail"])) as thumbnail:
        assert (facts["width"], facts["height"], thumbnail.size) == (200, 400, (36, 72))


def test_an_image_past_the_pixel_limit_is_refused_before_decoding(tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 6000)).save(huge)  # 48 million pixels, a few KB compressed
    with pytest.raises(ConversionFailed, match="more than 40 million"):
        image_facts(huge)
    broken = tmp_path / "broken.jpg"
    whole = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(whole, "JPEG")
    broken.write_bytes(whole.getvalue()[:2000])
    with pytest.raises(ConversionFailed, match="damaged or truncated"):
        sticker(broken, tmp_path / "sticker")


def test_video_facts(media):
    facts = video_facts(media["clip.mp4"])
    assert (facts["width"], facts["height"], facts["seconds"]) == (*VIDEO_SIZE, VIDEO_SECONDS)
    with Image.open(io.BytesIO(facts["thumbnail"])) as thumbnail:
        thumbnail.load()
        assert thumbnail.format == "JPEG" and thumbnail.size == (72, 54)


def test_video_facts_of_a_video_held_upright(media):
    facts = video_facts(media["upright.mp4"])
    assert (facts["width"], facts["height"]) == (VIDEO_SIZE[1], VIDEO_SIZE[0])
    with Image.open(io.BytesIO(facts["thumbnail"])) as thumbnail:
        assert thumbnail.size == (54, 72)


def test_video_facts_of_what_is_no_video(media, tmp_path):
    with pytest.raises(ConversionFailed, match="no video stream"):
        video_facts(media["burst.mp3"])
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    with pytest.raises(ConversionFailed) as failed:
        video_facts(garbage)
    assert_clean(failed.value.message, garbage, tmp_path)


def test_without_ffmpeg_the_error_says_so(media, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg or ffprobe on it
    with pytest.raises(ConversionFailed, match="ffmpeg is not installed"):
        voice_note(media["burst.mp3"], tmp_path / "voice")
    with pytest.raises(ConversionFailed, match="ffprobe is not installed"):
        video_facts(media["clip.mp4"])
    assert image_facts(media["photo.jpg"])["width"] == 640  # images need no ffmpeg


def test_an_unknown_ffmpeg_complaint_is_cut_to_one_clean_line():
    from wamulti.transcoding.conversion_errors import tool_reason
    stderr = (b"[mp3 @ 0x55d0c0ffee00] Header missing\n"
              b"[aac @ 0x55d0c0ffee00] Odd channel layout \x1b[31m42\x1b[0m in file:/srv/data/media/ab/cdef.bin, "
              + b"x" * 300 + b"\n")
    reason = tool_reason(stderr)
    assert reason.startswith("Odd channel layout 42 in <file>, xxx") and reason.endswith("...")
    assert len(reason) <= 160 and "/srv" not in reason and "@ 0x" not in reason
