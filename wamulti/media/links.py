"""Signed, expiring links to a stored file: PUBLIC_URL/media/<id>?expires=<unix>&sig=<hmac>.

The signature is HMAC-SHA256 over "<id>.<expires>" with a secret: MEDIA_LINK_SECRET, else one made
once and kept in DATA_DIR/media-link-secret (mode 0600), so links survive a restart and every
instance sharing DATA_DIR (or given the same MEDIA_LINK_SECRET) accepts them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote

SECRET_FILE = "media-link-secret"


def link_secret(configured: str, data_dir: Path) -> bytes:
    """MEDIA_LINK_SECRET when set; else the secret in DATA_DIR/media-link-secret, made on first use."""
    if configured:
        return configured.encode("utf-8")
    path = Path(data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two processes starting at once keep one secret
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        file.write(secrets.token_urlsafe(32).encode("ascii"))
    return path.read_bytes().strip()


class LinkSigner:
    """Signs and checks media links; immutable, so thread-safe."""

    def __init__(self, secret: bytes, public_url: str, ttl_seconds: int):
        self._secret, self.base, self.ttl = secret, public_url.rstrip("/"), ttl_seconds

    def _sig(self, media_id: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{media_id}.{expires}".encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def url(self, media_id: str, now: float | None = None) -> str:
        expires = int(now if now is not None else time.time()) + self.ttl
        return f"{self.base}/media/{quote(media_id, safe='')}?expires={expires}&sig={self._sig(media_id, expires)}"

    def valid(self, media_id: str, expires: str | None, sig: str | None, now: float | None = None) -> bool:
        """Whether the link's signature is ours and it has not expired."""
        if not expires or not sig or not expires.isdigit() or len(expires) > 12:
            return False
        if int(expires) < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._sig(media_id, int(expires)), sig)
