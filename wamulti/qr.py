"""QR codes for pairing: PNG for the API, text for the terminal (segno)."""

from __future__ import annotations

import io

import segno


def qr_png(data: str, scale: int = 6) -> bytes:
    """The QR code of data as PNG bytes."""
    buf = io.BytesIO()
    segno.make(data, error="l", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_text(data: str) -> str:
    """The QR code of data drawn with block characters for a terminal."""
    buf = io.StringIO()
    segno.make(data, error="l", micro=False).terminal(out=buf, compact=True, border=2)
    return buf.getvalue()
