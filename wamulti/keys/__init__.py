"""Scoped API keys: the admin key (API_KEY) makes keys that reach only the clients they name."""

from __future__ import annotations

from .book import ApiKeys, IssuedKey, KeyInfo
from .principal import ADMIN, NOBODY, Principal

__all__ = ["ADMIN", "NOBODY", "ApiKeys", "IssuedKey", "KeyInfo", "Principal"]
