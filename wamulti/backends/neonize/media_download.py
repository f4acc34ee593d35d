"""An incoming attachment's bytes through neonize 0.5.2's download entry point.

neonize streams nothing: each of its entry points hands the whole file back at once.
- `download_any(message)` (chosen): Go's DownloadAny finds the media part in the message, downloads
  it (directPath, or the URL of older senders), checks fileEncSHA256 and fileSHA256, decrypts, and
  returns the plaintext in a protobuf that ctypes copies into one Python `bytes`.
- `download_any(message, path)` is the same call followed by a write: the same peak, plus a path
  string handed to the library (never done here).
- `download_media_with_path(...)` needs the media type and MMS type spelt out and has no fallback
  to the URL; the same whole-file answer.
So the bound is ours: a declared fileLength over `max_bytes` is refused before Go is called; what
comes back is checked again (a sender may lie about fileLength: Go then holds it all once). One
download costs about 3x the file while it runs (Go's encrypted and plaintext copies, then the
Python bytes; Go's are freed after the call), and nothing is kept: the bytes go to the sink in
1 MiB slices and are dropped. The media pool's size (MEDIA_DOWNLOAD_CONCURRENCY) times MEDIA_MAX_MB
times 3 bounds the memory downloads take.
"""

from __future__ import annotations

from typing import BinaryIO

from .. import backend_api as bk
from ..reasons import clip

CHUNK = 1 << 20


def _message(ref: bytes | None):
    from google.protobuf.message import DecodeError
    from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

    if not ref:
        raise bk.DownloadFailed("no download reference for this media")
    try:
        return Message.FromString(ref)
    except DecodeError:
        raise bk.DownloadFailed("unreadable download reference") from None


def download_to(client, media: bk.Media, sink: BinaryIO, max_bytes: int, library_error: type[Exception]) -> int:
    """Fetch the media of `media.download` (incoming.download_ref) with the client, write it to the
    sink; DownloadTooLarge / DownloadFailed (a short reason, never the library's whole text)."""
    if media.size is not None and media.size > max_bytes:
        raise bk.DownloadTooLarge(media.size, max_bytes)
    message = _message(media.download)
    try:
        data = client.download_any(message)
    except library_error as exc:
        raise bk.DownloadFailed(clip(str(exc)) or type(exc).__name__) from None
    if not data:
        raise bk.DownloadFailed("WhatsApp returned no content")
    if len(data) > max_bytes:
        raise bk.DownloadTooLarge(None, max_bytes)
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        sink.write(view[start:start + CHUNK])
    return len(view)
