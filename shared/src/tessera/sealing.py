"""Sealer: AES-256-GCM under a key derived (HKDF-SHA256) from a secret, for data at rest.

    sealer = Sealer(key_material, info=b"tessera/mail-outbox/v1")
    sealed = sealer.seal(b"...", associated=row_id)    # nonce(12) || ciphertext+tag
    sealer.open(sealed, associated=row_id)             # the bytes, or None

`info` separates the uses of one secret (auth's key-encryption key seals signing keys, keys
the CSRF HMAC and seals the mail outbox, each under its own derived key). The associated data
binds a sealed value to its row, so it cannot be moved to another; `open` answers None for a
value sealed under another key, for another row, or tampered with.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


def derive_key(key_material: bytes, *, info: bytes) -> bytes:
    """A 32-byte key for one use (`info`) of a secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key_material)


class Sealer:
    """Seals and opens bytes for one use of one secret."""

    def __init__(self, key_material: bytes, *, info: bytes) -> None:
        self._aead = AESGCM(derive_key(key_material, info=info))

    def __repr__(self) -> str:
        return "Sealer()"

    def seal(self, plaintext: bytes, *, associated: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated.encode("utf-8"))

    def open(self, sealed: bytes, *, associated: str) -> bytes | None:
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, associated.encode("utf-8"))
        except (InvalidTag, ValueError):
            return None
