"""API keys as secrets: made, hashed and told apart by a short prefix.

A key is 32 random bytes, URL-safe, after a readable kind (``mm_live_``, ``mm_test_``). Being
random and long, it needs no slow hash: SHA-256 makes the stored form, and checking a key
costs one hash and one dictionary lookup (``security/keyring.py``).
"""

from __future__ import annotations

import hashlib
import secrets

LIVE_KIND = "mm_live_"
TEST_KIND = "mm_test_"
#: Characters of a key kept in clear in the store, enough to tell keys apart in listings.
PREFIX_CHARS = 12


def new_key(*, test: bool) -> str:
    """A new secret key; shown once, never stored."""
    return (TEST_KIND if test else LIVE_KIND) + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """What the store keeps of ``key``: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_CHARS]


__all__ = ["LIVE_KIND", "PREFIX_CHARS", "TEST_KIND", "key_hash", "key_prefix", "new_key"]
