"""A video's facts for its message: size as shown, duration, and a JPEG thumbnail of an early frame."""

from __future__ import annotations

from pathlib import Path

from .conversion_errors import ConversionFailed
from .media_probe import Probe, input_args, probe, unnamed, whole_seconds
from .pictures import THUMBNAIL_SIDE
from .tool_runs import run_tool

THUMBNAIL_AT = 1.0  # seconds in (or a third of a shorter video): the first frame is often black
# one frame, scaled to fit the thumbnail's side (ffmpeg turns it upright), as a JPEG on stdout
THUMBNAIL_OUTPUT = ("-map", "0:v:0", "-frames:v", "1", "-an", "-sn", "-dn", "-map_metadata", "-1",
                    "-vf", f"scale={THUMBNAIL_SIDE}:{THUMBNAIL_SIDE}:force_original_aspect_ratio=decrease",
                    "-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", "5", "-f", "image2pipe", "pipe:1")


def video_facts(src: Path) -> dict:
    """{"width", "height" (as shown, rotation applied), "seconds" (rounded up; 0 when unknown),
    "thumbnail": JPEG bytes}; ConversionFailed when `src` holds no video ffmpeg can read."""
    purpose = "read the video"
    with unnamed(src) as link:
        facts = probe(link, purpose)
        stream = facts.first("video")
        if stream is None or not stream.get("width") or not stream.get("height"):
            raise ConversionFailed(f"Could not {purpose}: the file has no video stream.")
        seconds = _seconds(facts, stream)
        thumbnail = _thumbnail(link, min(THUMBNAIL_AT, seconds / 3))
    width, height = _shown_size(stream)
    return {"width": width, "height": height, "seconds": whole_seconds(seconds) if seconds else 0,
            "thumbnail": thumbnail}


def _shown_size(stream: dict) -> tuple[int, int]:
    """Width and height as a player shows them: swapped when the stream is stored turned by 90 degrees."""
    width, height = int(stream["width"]), int(stream["height"])
    rotations = [side.get("rotation") for side in stream.get("side_data_list", []) if isinstance(side, dict)]
    rotations.append(stream.get("tags", {}).get("rotate"))
    for rotation in rotations:
        try:
            if int(float(rotation)) % 180 == 90:
                return height, width
        except (TypeError, ValueError):
            continue
    return width, height


def _seconds(facts: Probe, stream: dict) -> float:
    if facts.seconds_exact:
        return facts.seconds_exact
    try:
        return max(0.0, float(stream.get("duration")))
    except (TypeError, ValueError):
        return 0.0


def _thumbnail(src: Path, at: float) -> bytes:
    """A JPEG of the frame at `at` seconds (of the first frame when that gives none)."""
    for start in (at, 0.0) if at > 0 else (0.0,):
        jpeg = run_tool("ffmpeg", ["-ss", f"{start:.3f}", *input_args(src), *THUMBNAIL_OUTPUT],
                        purpose="take the video's thumbnail", stream="video")
        if jpeg:
            return jpeg
    raise ConversionFailed("Could not take the video's thumbnail: no frame could be decoded.")
