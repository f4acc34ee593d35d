"""Voice notes: any audio a caller uploads becomes what WhatsApp plays as one (OGG/Opus, mono), with
its duration and waveform measured from the same decode."""

from __future__ import annotations

from pathlib import Path

from .conversion_errors import ConversionFailed
from .media_probe import input_args, probe, unnamed, whole_seconds
from .tool_runs import run_tool
from .waveform import WaveformMeter

VOICE_MIMETYPE = "audio/ogg; codecs=opus"
MEASURE_RATE = 8000  # samples per second of the decode the waveform and duration are measured on
# Opus in Ogg, mono, 48 kHz, speech-tuned; metadata (tags, cover art) dropped
VOICE_OUTPUT = ("-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1", "-ac", "1", "-ar", "48000",
                "-c:a", "libopus", "-b:a", "32k", "-application", "voip", "-f", "ogg", "-y")
# the second output of the same run: raw samples on stdout, read as they come
MEASURE_OUTPUT = ("-map", "0:a:0", "-ac", "1", "-ar", str(MEASURE_RATE), "-f", "s16le", "pipe:1")


def voice_note(src: Path, dest: Path) -> dict:
    """Convert the audio in `src` to an OGG/Opus voice note at `dest`.

    -> {"mimetype": "audio/ogg; codecs=opus", "seconds": int (rounded up, >= 1), "waveform": 64 ints 0..100}.
    ConversionFailed when `src` holds no audio ffmpeg can read (then `dest` may hold a partial file)."""
    meter = WaveformMeter()
    with unnamed(src) as link:
        run_tool("ffmpeg", [*input_args(link), *VOICE_OUTPUT, f"file:{dest}", *MEASURE_OUTPUT],
                 purpose="make a voice note", consume=meter.feed)
    if meter.samples == 0:
        raise ConversionFailed("Could not make a voice note: the file holds no audio.")
    return {"mimetype": VOICE_MIMETYPE, "seconds": whole_seconds(meter.samples / MEASURE_RATE),
            "waveform": meter.waveform()}


def audio_seconds(src: Path) -> int:
    """The duration of the audio in `src` in whole seconds (rounded up, >= 1).

    From the container's word when it has one, else counted by decoding (streamed)."""
    purpose = "measure the audio"
    with unnamed(src) as link:
        facts = probe(link, purpose)
        if facts.first("audio") is None:
            raise ConversionFailed(f"Could not {purpose}: the file has no audio stream.")
        if facts.seconds_exact:
            return whole_seconds(facts.seconds_exact)
        meter = WaveformMeter()
        run_tool("ffmpeg", [*input_args(link), *MEASURE_OUTPUT], purpose=purpose, consume=meter.feed)
    if meter.samples == 0:
        raise ConversionFailed(f"Could not {purpose}: the file holds no audio.")
    return whole_seconds(meter.samples / MEASURE_RATE)
