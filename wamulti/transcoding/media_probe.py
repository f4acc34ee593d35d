"""What an audio or video file holds, from its bytes (ffprobe), and how every tool run opens one.

Inputs are opened only by the demuxers of FORMATS, through the file protocol only: a playlist (HLS,
concat) cannot make ffmpeg read other files or the network, and the path is given as `file:...` so
no part of it is read as a protocol. The file's name plays no part either: ffmpeg lets an extension
break ties between weak matches, so a run sees the file under a name that says nothing (`unnamed`)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .conversion_errors import ConversionFailed
from .tool_runs import run_tool

# the demuxers a stored file may be read with: MP4/M4A/3GP/MOV, WebM/Matroska, MP3, WAV, Ogg
# (Vorbis, Opus), FLAC, raw AAC, AMR (older phones' voice notes), AVI, MPEG-TS, ASF (WMA), CAF
FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mp3,wav,w64,ogg,flac,aac,amr,avi,mpegts,asf,caf"


# what video_facts and voice_note read of a probe (ffprobe would otherwise print every tag of every stream)
ENTRIES = ("stream=codec_type,codec_name,width,height,channels,duration:stream_side_data=rotation:"
           "stream_tags=rotate:format=duration")
PADDING_SECONDS = 0.05


@contextmanager
def unnamed(src: Path) -> Iterator[Path]:
    """`src` as a symbolic link named `input` in a private temporary folder, while the block runs."""
    with tempfile.TemporaryDirectory(prefix="wamulti-transcode-") as folder:
        link = Path(folder) / "input"
        os.symlink(Path(src).resolve(), link)
        yield link


def opening_options() -> list[str]:
    """The input options every run opens a stored file with (before its `file:` path)."""
    return ["-protocol_whitelist", "file,pipe", "-format_whitelist", FORMATS]


def input_args(src: Path) -> list[str]:
    """The options that open `src` as an input of ffmpeg."""
    return [*opening_options(), "-i", f"file:{src}"]


@dataclass(frozen=True)
class Probe:
    """ffprobe's view of a file: its streams (dicts as ffprobe reports them) and duration."""

    streams: list[dict]
    seconds_exact: float | None

    def first(self, codec_type: str) -> dict | None:
        """The first stream of a type ("audio", "video"), or None."""
        return next((s for s in self.streams if s.get("codec_type") == codec_type), None)


def probe(src: Path, purpose: str) -> Probe:
    """Probe `src` (a name from `unnamed`); ConversionFailed when ffprobe cannot read it."""
    output = run_tool("ffprobe", [*opening_options(), "-show_entries", ENTRIES, "-of", "json", f"file:{src}"],
                      purpose=purpose)
    try:
        facts = json.loads(output or b"{}")
    except ValueError:
        raise ConversionFailed(f"Could not {purpose}: ffprobe gave an unreadable answer.") from None
    streams = [s for s in facts.get("streams", []) if isinstance(s, dict)]
    return Probe(streams, _seconds(facts.get("format", {}).get("duration")))


def _seconds(value) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def whole_seconds(seconds: float) -> int:
    """A duration in whole seconds as WhatsApp shows it: rounded up, at least 1. The last PADDING_SECONDS
    do not count: decoders add up to a frame of silence (AAC 1024 samples, MP3 1152), and a 3.00 s
    recording is 3 s, not 4."""
    return max(1, math.ceil(seconds - PADDING_SECONDS))
