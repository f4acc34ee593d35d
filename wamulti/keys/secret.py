"""The keys themselves: random, recognisable by their prefix, kept only as a SHA-256.

A key carries 256 bits from the kernel's CSPRNG, so a plain SHA-256 is the right way to keep it:
nobody can search that space, so the slow, salted hashes made for guessable passwords add cost and
nothing else, and an unsalted hash can be looked up by equality (one indexed query per request).
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "wam_"
KEY_BYTES = 32
KEY_ID_PREFIX = "key_"
KEY_ID_BYTES = 8


def new_key() -> str:
    """A fresh key: 'wam_' + 43 URL-safe characters (32 random bytes)."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def new_key_id() -> str:
    """A fresh public id for a key ('key_' + 16 hex digits): what lists show and DELETE takes."""
    return KEY_ID_PREFIX + secrets.token_hex(KEY_ID_BYTES)


def key_hash(key: str) -> str:
    """The key's SHA-256 as 64 hex digits: what the store keeps and looks keys up by."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(value: str) -> bool:
    """Whether a presented value has a scoped key's shape (anything else never reaches the store)."""
    return value.startswith(KEY_PREFIX) and len(value) <= len(KEY_PREFIX) + 2 * KEY_BYTES


def is_key_id(value: str) -> bool:
    """Whether a value has a key id's shape."""
    tail = value[len(KEY_ID_PREFIX):]
    return value.startswith(KEY_ID_PREFIX) and len(tail) == 2 * KEY_ID_BYTES and all(c in "0123456789abcdef"
                                                                                        for c in tail)
