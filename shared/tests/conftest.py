"""Fixtures: real RSA keys and a token minter that can forge every malformed shape."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tessera import StaticKeySource, TokenVerifier

from .auth_double import AuthDouble, serving

ISSUER = "http://localhost:8000"
AUDIENCE = "orders"
KID = "key-1"
NOW = 1_750_000_000.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rs256_sign(key: rsa.RSAPrivateKey, signing_input: bytes) -> bytes:
    return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def standard_claims(now: float = NOW, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": ["auth", "orders", "billing"],
        "exp": int(now) + 300,
        "iat": int(now),
        "nbf": int(now),
        "jti": "jti-1",
        "sid": "session-1",
        "client_id": "web",
        "scope": "orders:read orders:write",
        "roles": ["user"],
        "ver": 1,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not ...}


Mint = Callable[..., str]


@pytest.fixture
def mint(signing_key: rsa.RSAPrivateKey) -> Mint:
    """mint(claims=None, header=None, key=None) -> a compact JWS signed with RS256.

    Header/claim values of `...` remove the member; `key` signs with another private key.
    """

    def _mint(
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        full_header = {"alg": "RS256", "typ": "at+jwt", "kid": KID, **(header or {})}
        full_header = {k: v for k, v in full_header.items() if v is not ...}
        body = standard_claims() if claims is None else claims
        signing_input = (
            b64url(json.dumps(full_header).encode()) + "." + b64url(json.dumps(body).encode())
        )
        signature = rs256_sign(key or signing_key, signing_input.encode())
        return signing_input + "." + b64url(signature)

    return _mint


@pytest.fixture
async def auth() -> AsyncIterator[tuple[AuthDouble, str]]:
    """auth's contracts served on a loopback port (`auth_double.py`), and its base URL."""
    double = AuthDouble()
    async with serving(double.app) as base_url:
        yield double, base_url


@pytest.fixture
def clock() -> Callable[[], float]:
    return lambda: NOW


@pytest.fixture
def verifier(signing_key: rsa.RSAPrivateKey, clock: Callable[[], float]) -> TokenVerifier:
    return TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        keys=StaticKeySource({KID: signing_key.public_key()}),
        clock=clock,
    )


@pytest.fixture
def claims() -> Callable[..., dict[str, Any]]:
    """claims(**overrides) -> valid claims at NOW; an override of `...` removes the claim."""
    return standard_claims


@pytest.fixture
def live_claims() -> Callable[..., dict[str, Any]]:
    """Claims valid now, for tests that run real servers with the real clock."""
    return lambda **overrides: standard_claims(time.time(), **overrides)
