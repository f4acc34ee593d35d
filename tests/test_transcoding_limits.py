"""The bounds of wamulti/transcoding on real ffmpeg: a process-wide number of conversions at once, a
deadline that kills the process, output that cannot grow without limit, and a waveform computed in
bounded memory however long the audio."""

from __future__ import annotations

import os
import shutil
import threading
import time
from array import array
from pathlib import Path

import pytest

from tests.media_samples import lavfi, make_video
from wamulti.transcoding import ConversionFailed, configure, video_facts, voice_note
from wamulti.transcoding.limits import processes
from wamulti.transcoding.tool_runs import run_tool
from wamulti.transcoding.waveform import MAX_BINS, WaveformMeter

AN_HOUR_OF_TONE = ("-re", "-f", "lavfi", "-i", "sine=frequency=440:duration=3600")  # -re: in real time


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    if shutil.which("ffmpeg") is None:
        if os.environ.get("CI"):
            pytest.fail("ffmpeg is not installed: CI must run the transcoding tests (./scripts/test installs it)")
        pytest.skip("ffmpeg is not installed (./scripts/test installs it)")
    folder = tmp_path_factory.mktemp("limits")
    return {"tone": lavfi(folder / "tone.wav", "sine=frequency=300:duration=30"),
            "long": lavfi(folder / "long.wav", "sine=frequency=300:sample_rate=8000:duration=600"),
            "clip": make_video(folder)}


@pytest.fixture
def bounds():
    """configure() for a test; the defaults again after it."""
    yield configure
    configure()


def our_ffmpeg_children() -> list[int]:
    """Pids of this process's ffmpeg/ffprobe children (running or not yet reaped)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = dict(line.split(":\t", 1) for line in (entry / "status").read_text().splitlines()
                          if ":\t" in line)
        except (OSError, ValueError):
            continue
        if status.get("PPid", "").strip() == str(os.getpid()) and status.get("Name", "").startswith("ff"):
            found.append(int(entry.name))
    return found


def all_at_once(count: int, convert) -> list:
    """Run convert(i) for i in range(count) on as many threads, released together; their results."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = convert(i)
        except Exception as exc:  # reported below, with the rest
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    return results


@pytest.mark.parametrize("concurrency", [2, 1])
def test_six_conversions_at_once_run_no_more_processes_than_the_bound(inputs, tmp_path, bounds, concurrency):
    bounds(concurrency=concurrency)
    started = processes.started
    processes.reset_peak()
    results = all_at_once(6, lambda i: voice_note(inputs["tone"], tmp_path / f"voice{i}"))
    assert [r["seconds"] for r in results] == [30] * 6
    assert processes.started - started == 6
    # never more than the bound, and the bound is what held them back: they did run side by side
    assert processes.peak == concurrency
    assert processes.running == 0


def test_the_bound_is_shared_by_every_kind_of_conversion(inputs, tmp_path, bounds):
    bounds(concurrency=2)
    started = processes.started
    processes.reset_peak()
    all_at_once(6, lambda i: voice_note(inputs["tone"], tmp_path / f"voice{i}") if i % 2
                else video_facts(inputs["clip"]))
    assert processes.started - started == 3 + 3 * 2  # a video's facts: ffprobe, then ffmpeg
    assert processes.peak == 2


def test_a_run_past_its_deadline_is_killed(bounds):
    began = time.monotonic()
    with pytest.raises(ConversionFailed, match=r"^Could not play an hour: it took longer than 0.5 s\.$"):
        run_tool("ffmpeg", [*AN_HOUR_OF_TONE, "-f", "null", "-"], purpose="play an hour", timeout=0.5)
    assert time.monotonic() - began < 10
    assert processes.running == 0 and our_ffmpeg_children() == []


def test_the_configured_deadline_applies_to_conversions(inputs, tmp_path, bounds):
    bounds(timeout=0.2)  # ten minutes of audio take seconds to encode
    with pytest.raises(ConversionFailed, match="took longer than 0.2 s"):
        voice_note(inputs["long"], tmp_path / "voice")
    assert processes.running == 0 and our_ffmpeg_children() == []


def test_output_past_its_cap_stops_the_run(bounds):
    """A run whose output is kept (a probe, a thumbnail) may print 4 MB; a minute of raw audio is more."""
    with pytest.raises(ConversionFailed, match="size limit"):
        run_tool("ffmpeg", ["-f", "lavfi", "-i", "sine=duration=60", "-f", "s16le", "pipe:1"], purpose="print")
    assert processes.running == 0 and our_ffmpeg_children() == []


def test_a_long_voice_note_is_measured_as_it_streams(inputs, tmp_path):
    facts = voice_note(inputs["long"], tmp_path / "voice")
    assert facts["seconds"] == 600
    assert min(facts["waveform"]) >= 95  # a steady tone: every slice alike


def tone_bytes(samples: int, amplitude: int) -> bytes:
    """s16le samples of a square wave (+-amplitude), little-endian like ffmpeg's s16le."""
    wave = array("h", [amplitude, -amplitude] * (samples // 2))
    if wave.itemsize != 2 or array("h", [1]).tobytes() != b"\x01\x00":
        wave.byteswap()
    return wave.tobytes()


def test_the_waveform_meter_is_the_same_whatever_the_chunks():
    stream = tone_bytes(8000, 20000) + tone_bytes(8000, 2000) + tone_bytes(16000, 0)
    whole, pieces = WaveformMeter(), WaveformMeter()
    whole.feed(stream)
    for at in range(0, len(stream), 777):  # odd sizes: samples split between chunks
        pieces.feed(stream[at:at + 777])
    assert pieces.samples == whole.samples == 32000
    assert pieces.waveform() == whole.waveform()
    assert whole.waveform()[:16] == [100] * 16 and whole.waveform()[16:32] == [10] * 16
    assert whole.waveform()[32:] == [0] * 32


def test_the_waveform_meter_keeps_its_bins_bounded_for_long_audio():
    meter = WaveformMeter()
    loud, quiet = tone_bytes(80 * 1000, 16000), tone_bytes(80 * 1000, 4000)
    for _ in range(6):  # 6 x 2 x 80,000 samples: 12,000 bins of 80 samples, merged as they come
        meter.feed(loud)
        meter.feed(quiet)
    assert meter.bins_kept <= MAX_BINS
    waveform = meter.waveform()
    assert waveform[:5] == [100] * 5 and waveform[6:10] == [25] * 4  # 12 stretches of 5.33 slices each
    assert max(waveform) == 100 and min(waveform) == 25
