"""Media files for the transcoding tests and bench.transcoding, made on the spot: audio and video from
ffmpeg's lavfi sources, images with Pillow. Nothing is downloaded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image

# 3 s of a loud 440 Hz tone, then 3 s of silence; two channels (a voice note is mixed down to one)
BURST_SECONDS = 6
BURST = ("aevalsrc=exprs='if(lt(t,3),0.8*sin(2*PI*440*t),0)|if(lt(t,3),0.8*sin(2*PI*440*t),0)'"
         f":s=44100:d={BURST_SECONDS}")
AUDIO_ENCODINGS = {  # file name: ffmpeg output options
    "burst.mp3": ("-c:a", "libmp3lame", "-b:a", "64k"),
    "burst.wav": ("-c:a", "pcm_s16le"),
    "burst.m4a": ("-c:a", "aac", "-b:a", "64k"),
    "burst.ogg": ("-c:a", "libvorbis"),
    "burst.opus": ("-c:a", "libopus", "-f", "ogg"),
    "burst.webm": ("-c:a", "libopus", "-f", "webm"),
    "burst.flac": ("-c:a", "flac"),
}
VIDEO_SIZE = (320, 240)
VIDEO_SECONDS = 3


def ffmpeg(*args: str, timeout: float = 300) -> None:
    """Run ffmpeg quietly (tests' own inputs; the code under test runs it its own way)."""
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", *args], check=True,
                   timeout=timeout, stdin=subprocess.DEVNULL)


def lavfi(dest: Path, source: str, *options: str) -> Path:
    """`dest` made from a lavfi source graph."""
    ffmpeg("-f", "lavfi", "-i", source, *options, "-y", str(dest))
    return dest


def ffprobe(path: Path) -> dict:
    """ffprobe's JSON about a file's format and streams."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL).stdout
    return json.loads(out)


def make_audio(folder: Path) -> dict[str, Path]:
    """The burst in every encoding of AUDIO_ENCODINGS."""
    return {name: lavfi(folder / name, BURST, *options) for name, options in AUDIO_ENCODINGS.items()}


def make_video(folder: Path, name: str = "clip.mp4", size: tuple[int, int] = VIDEO_SIZE,
               seconds: float = VIDEO_SECONDS, *options: str) -> Path:
    """An H.264 + AAC MP4 of the test pattern with a tone."""
    dest = folder / name
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size[0]}x{size[1]}:rate=25:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", *options,
           "-shortest", "-y", str(dest))
    return dest


def rotated(src: Path, dest: Path, degrees: int = 90) -> Path:
    """A copy of a video marked to be shown turned (a phone held upright)."""
    ffmpeg("-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", "-y", str(dest))
    return dest


def make_images(folder: Path) -> dict[str, Path]:
    """A wide transparent PNG, a JPEG, a two-frame GIF and a WebP."""
    wide = Image.new("RGBA", (300, 150), (0, 0, 0, 0))
    wide.paste((200, 30, 30, 255), (20, 20, 280, 130))
    wide.save(folder / "wide.png")
    Image.new("RGB", (640, 480), (20, 120, 200)).save(folder / "photo.jpg", quality=90)
    frames = [Image.new("P", (100, 200), colour) for colour in (1, 2)]
    frames[0].save(folder / "tall.gif", save_all=True, append_images=frames[1:], duration=100)
    Image.new("RGB", (256, 256), (90, 200, 60)).save(folder / "square.webp")
    return {name: folder / name for name in ("wide.png", "photo.jpg", "tall.gif", "square.webp")}
