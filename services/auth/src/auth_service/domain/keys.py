"""Signing keys in memory: the active private key (parsed once) and the public keys to publish.

`KeyRing` is what the token issuer signs with, what `/.well-known/jwks.json` shows, and, because
it has `get_key(kid)`, the in-process `tessera.KeySource` auth verifies its own tokens with. The
rotation lifecycle (`next` → `active` → `retired`) replaces the ring's contents; readers always see
one consistent snapshot because the ring swaps a whole immutable tuple at once.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"
RSA_KEY_BITS = 2048


class KeyState(enum.StrEnum):
    """Where a key is in its life; only one key is `active` (enforced by the database)."""

    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"

    @property
    def listing_order(self) -> int:
        """Active first, then next, then retired: the JWKS and `keys list` order."""
        return (KeyState.ACTIVE, KeyState.NEXT, KeyState.RETIRED).index(self)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _uint_b64url(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def rsa_public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """The bare RSA JWK members (kty, n, e) of a public key."""
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


def jwk_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint, used as the `kid`: stable, and derived from the key itself."""
    members = rsa_public_jwk(public_key)
    canonical = json.dumps(
        {"e": members["e"], "kty": "RSA", "n": members["n"]}, separators=(",", ":")
    )
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(e=_uint_b64url(jwk["e"]), n=_uint_b64url(jwk["n"])).public_key()


@dataclass(frozen=True)
class PublishedKey:
    """A public key verifiers may see, with its kid and state."""

    kid: str
    public_key: rsa.RSAPublicKey
    state: KeyState

    def jwk(self) -> dict[str, str]:
        return {**rsa_public_jwk(self.public_key), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    """The private key tokens are signed with, parsed once at load time (never PEM per call)."""

    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)

    @property
    def published(self) -> PublishedKey:
        return PublishedKey(self.kid, self.private_key.public_key(), KeyState.ACTIVE)


def generate_signing_key() -> SigningKey:
    """A fresh RSA-2048 key; slow (tens of ms), so callers run it in a thread."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return SigningKey(kid=jwk_thumbprint(private_key.public_key()), private_key=private_key)


class KeyRing:
    """The active signing key plus every published public key; a `tessera.KeySource`."""

    def __init__(self, signing_key: SigningKey, published: Iterable[PublishedKey] = ()) -> None:
        self._snapshot: tuple[SigningKey, dict[str, PublishedKey]] = (signing_key, {})
        self.replace(signing_key, published)

    def replace(self, signing_key: SigningKey, published: Iterable[PublishedKey] = ()) -> None:
        """Swap in a new key set at once (key rotation reloads the ring with this)."""
        by_kid = {key.kid: key for key in published}
        by_kid[signing_key.kid] = signing_key.published
        self._snapshot = (signing_key, by_kid)

    @property
    def signing_key(self) -> SigningKey:
        return self._snapshot[0]

    @property
    def published(self) -> tuple[PublishedKey, ...]:
        """Every key in the JWKS, with its state."""
        return tuple(self._snapshot[1].values())

    async def get_key(self, kid: str) -> rsa.RSAPublicKey | None:
        key = self._snapshot[1].get(kid)
        return key.public_key if key is not None else None

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set document: active key first, then next, then retired keys."""
        keys = sorted(self._snapshot[1].values(), key=lambda k: (k.state.listing_order, k.kid))
        return {"keys": [key.jwk() for key in keys]}
