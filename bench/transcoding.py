"""What conversions cost: a long MP3 made a voice note, and a 40 MB video's facts, each measured in a
fresh child process of its own (so nothing else shows in its peak).

    python -m bench.transcoding             # 1, 10 and 60 minute MP3s, a 40 MB 720p MP4
    python -m bench.transcoding --quick     # 1 and 10 minutes only

For each: wall time, the Python process's peak RSS above what it had before the conversion (the
waveform is computed as the decode streams, so this should not grow with the audio's length), and
the peak RSS of the ffmpeg/ffprobe children. Inputs are made with ffmpeg's lavfi sources in a
temporary directory; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, report
from tests.media_samples import ffmpeg

VIDEO_MB = 40
VIDEO_SECONDS = 60


def speech_like_mp3(dest: Path, minutes: int) -> Path:
    """A tone that comes and goes (a voice's rhythm), 44.1 kHz stereo, 128 kb/s MP3."""
    source = f"aevalsrc=exprs='0.6*sin(2*PI*220*t)*gt(sin(2*PI*0.7*t),0)':s=44100:d={minutes * 60}"
    ffmpeg("-f", "lavfi", "-i", source, "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", "-y", str(dest),
           timeout=1800)
    return dest


def video_of(dest: Path, megabytes: int) -> Path:
    """A 720p H.264 + AAC MP4 of about `megabytes` MB."""
    kbits = megabytes * 8 * 1024 // VIDEO_SECONDS - 128
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={VIDEO_SECONDS}",
           "-f", "lavfi", "-i", f"sine=frequency=440:duration={VIDEO_SECONDS}",
           "-c:v", "libx264", "-preset", "ultrafast", "-b:v", f"{kbits}k", "-maxrate", f"{kbits}k",
           "-bufsize", f"{kbits}k", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-y", str(dest),
           timeout=1800)
    return dest


def measure_here(kind: str, src: Path) -> dict:
    """Run one conversion in this process; its figures (the child side of `measured`)."""
    from wamulti.transcoding import video_facts, voice_note

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.monotonic()
    if kind == "voice":
        with tempfile.TemporaryDirectory() as folder:
            facts = voice_note(src, Path(folder) / "voice.ogg")
            out_kb = (Path(folder) / "voice.ogg").stat().st_size // 1024
        result = f"{facts['seconds']} s, {out_kb} KB OGG/Opus, waveform starts {facts['waveform'][:6]}"
    else:
        facts = video_facts(src)
        result = (f"{facts['width']}x{facts['height']}, {facts['seconds']} s, "
                  f"thumbnail {len(facts['thumbnail'])} bytes")
    took = time.monotonic() - began
    return {"seconds_taken": round(took, 2), "rss_before_mb": round(before / 1024, 1),
            "python_peak_above_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1),
            "ffmpeg_peak_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            "result": result}


def measured(kind: str, src: Path) -> dict:
    """measure_here in a fresh Python process."""
    out = subprocess.run([sys.executable, "-m", "bench.transcoding", "--measure", kind, str(src)], cwd=ROOT,
                         check=True, capture_output=True, text=True, timeout=1800).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 and 10 minute MP3s only, no 60")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_here(args.measure[0], Path(args.measure[1]))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for minutes in (1, 10) if args.quick else (1, 10, 60):
            mp3 = speech_like_mp3(Path(folder) / f"talk{minutes}.mp3", minutes)
            rows.append({"what": f"{minutes} min MP3 ({mp3.stat().st_size // 1024} KB) -> voice note",
                         **measured("voice", mp3)})
        video = video_of(Path(folder) / "clip.mp4", VIDEO_MB)
        rows.append({"what": f"{video.stat().st_size / 1e6:.1f} MB 720p MP4 -> video facts",
                     **measured("video", video)})
    report("transcoding", rows, {})


if __name__ == "__main__":
    main()
