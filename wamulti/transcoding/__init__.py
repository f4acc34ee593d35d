"""Conversions of stored media (docs/architecture.md): voice notes, stickers, image and video facts.

ffmpeg and ffprobe (Debian's package) run as child processes, Pillow in this process; either way at
most TRANSCODE_CONCURRENCY at a time process-wide (`configure`), each run of a tool with a deadline.
Input is read from the bytes only, never from a file's name or the caller's word. Every failure is a
ConversionFailed with one clean sentence. Imports nothing of ours but errors.py.
"""

from .conversion_errors import ConversionFailed
from .limits import configure
from .pictures import image_facts, sticker
from .video import video_facts
from .voice import audio_seconds, voice_note

__all__ = ["ConversionFailed", "audio_seconds", "configure", "image_facts", "sticker", "video_facts",
           "voice_note"]
