"""Billing tokens kept for pending charges, sealed at rest.

A pending charge keeps the billing token its order's request obtained (`domain/payments.py`).
It is a bearer token for billing (aud billing, `act: orders`, minutes long), so the database
holds it sealed (`tessera.sealing`: AES-256-GCM under a key derived from orders' service-client
secret, which every replica has and the database never sees), with the order id as associated
data, so a sealed token cannot be moved to another order. Without a configured secret (tests
with an injected token source) the key is random per process: a restart then leaves tokens it
cannot open, and those orders fail as `authorization_expired`, which the user can pay again.
"""

from __future__ import annotations

import secrets

from tessera.sealing import Sealer

_INFO = b"tessera/orders/pending-charge-token/v1"


class ChargeTokenSealer:
    """Seals and opens billing tokens for one order each (`order_id` is the associated data)."""

    def __init__(self, secret: str | None) -> None:
        material = secret.encode("utf-8") if secret else secrets.token_bytes(32)
        self._sealer = Sealer(material, info=_INFO)

    def __repr__(self) -> str:
        return "ChargeTokenSealer()"

    def seal(self, token: str, *, order_id: str) -> bytes:
        return self._sealer.seal(token.encode("utf-8"), associated=order_id)

    def open(self, sealed: bytes, *, order_id: str) -> str | None:
        """The token, or None when it cannot be opened (another key, or tampered with)."""
        plain = self._sealer.open(sealed, associated=order_id)
        return None if plain is None else plain.decode("utf-8")
