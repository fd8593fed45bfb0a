"""Refresh tokens: how they look, how they are stored, and how a successor is sealed.

    token   = "tsr_" + base64url(32 random bytes)          (256 bits; the prefix helps scanners)
    stored  = SHA-256(token)                                 (never the token itself)
    sealed  = nonce(12) || AES-256-GCM(successor, key, aad)  key = HKDF-SHA256(raw parent token)

The sealed copy lets the grace window hand a retried refresh the successor it already got,
while the database holds nothing usable: opening it needs the raw parent token, which only its
holder has (the stored hash does not help; DESIGN §3, ADR 0004).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

REFRESH_TOKEN_PREFIX = "tsr_"  # noqa: S105 (a recognisable prefix, not a secret)
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 64
_SEAL_INFO = b"tessera/refresh-successor/v1"


def generate_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_refresh_token(token: str) -> bool:
    """Cheap shape check before any database work (length-bounded, right prefix)."""
    return token.startswith(REFRESH_TOKEN_PREFIX) and len(token) <= MAX_TOKEN_LENGTH


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def hashes_match(a: bytes | None, b: bytes | None) -> bool:
    """Constant-time equality of two token hashes (never `==`); a missing one matches nothing."""
    return a is not None and b is not None and hmac.compare_digest(a, b)


def _sealing_key(parent_token: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEAL_INFO)
    return hkdf.derive(parent_token.encode("utf-8"))


def seal_successor(parent_token: str, successor: str, *, session_id: str) -> bytes:
    """Encrypt `successor` so that only the holder of `parent_token` can open it."""
    nonce = os.urandom(12)
    aad = session_id.encode("ascii")
    return nonce + AESGCM(_sealing_key(parent_token)).encrypt(nonce, successor.encode("utf-8"), aad)


def open_successor(parent_token: str, sealed: bytes, *, session_id: str) -> str | None:
    """The sealed successor, or None if this token cannot open it."""
    try:
        plain = AESGCM(_sealing_key(parent_token)).decrypt(
            sealed[:12], sealed[12:], session_id.encode("ascii")
        )
    except (InvalidTag, ValueError):
        return None
    return plain.decode("utf-8")
