"""Billing tokens kept for pending charges, sealed at rest.

A pending charge keeps the billing token its order's request obtained (`domain/payments.py`).
It is a bearer token for billing (aud billing, `act: orders`, minutes long), so the database
holds it sealed with AES-256-GCM under a key derived (HKDF-SHA256) from orders' service-client
secret, which every replica has and the database never sees; the order id is the associated
data, so a sealed token cannot be moved to another order. Without a configured secret (tests
with an injected token source) the key is random per process: a restart then leaves tokens it
cannot open, and those orders fail as `authorization_expired`, which the user can pay again.
"""

from __future__ import annotations

import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
_INFO = b"tessera/orders/pending-charge-token/v1"


class ChargeTokenSealer:
    """Seals and opens billing tokens for one order each (`order_id` is the associated data)."""

    def __init__(self, secret: str | None) -> None:
        material = secret.encode("utf-8") if secret else secrets.token_bytes(32)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
        self._aead = AESGCM(hkdf.derive(material))

    def __repr__(self) -> str:
        return "ChargeTokenSealer()"

    def seal(self, token: str, *, order_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, token.encode("utf-8"), order_id.encode("utf-8"))

    def open(self, sealed: bytes, *, order_id: str) -> str | None:
        """The token, or None when it cannot be opened (another key, or tampered with)."""
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, ciphertext, order_id.encode("utf-8"))
        except (InvalidTag, ValueError):
            return None
        return plain.decode("utf-8")
