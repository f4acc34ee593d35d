"""QR codes for pairing: PNG for the API, text for the terminal (segno).

Both forms are drawn from the same symbol (`qr_symbol`): a full QR code (never Micro QR), error
correction at least L (segno raises it when that costs no extra size).
"""

from __future__ import annotations

import io

import segno

PNG_BORDER = 4   # the quiet zone the QR standard asks for
TEXT_BORDER = 2  # enough for phone cameras; keeps WhatsApp's long QR strings within 80 columns


def qr_symbol(data: str) -> segno.QRCode:
    """The QR symbol encoding data."""
    return segno.make(data, error="l", micro=False)


def qr_png(data: str, scale: int = 6) -> bytes:
    """The QR code of data as PNG bytes (dark modules black, `scale` pixels per module)."""
    buf = io.BytesIO()
    qr_symbol(data).save(buf, kind="png", scale=scale, border=PNG_BORDER)
    return buf.getvalue()


def qr_text(data: str) -> str:
    """The QR code of data drawn with Unicode half blocks, two module rows per line, one line per
    row pair ending in a newline. Light modules are drawn as blocks, so it reads correctly on the
    usual light-on-dark terminal."""
    buf = io.StringIO()
    qr_symbol(data).terminal(out=buf, compact=True, border=TEXT_BORDER)
    return buf.getvalue()
