"""Benchmark: TokenVerifier against raw RSA-2048 verification with `cryptography`.

Measured in one run so the ratios compare like with like on the same machine:
raw RS256 verify, TokenVerifier warm (the same token again: the verified-token cache), cold
(distinct tokens, every one fully verified), and PyJWT's decode for reference.

    uv run --frozen python bench/verifier.py
"""

from __future__ import annotations

import asyncio
import json
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tessera import StaticKeySource, TokenVerifier

ISSUER = "http://localhost:8000"
AUDIENCE = "orders"
KID = "bench-key"
SECONDS_PER_MEASURE = 1.5
COLD_TOKENS = 600


def _b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_access_token(
    key: rsa.RSAPrivateKey,
    jti: int,
    now: float,
    sid: str = "session-1",
    **extra_claims: object,
) -> str:
    """A valid RS256 access token for the bench issuer and audience (plus `extra_claims`)."""
    header = {"alg": "RS256", "typ": "at+jwt", "kid": KID}
    claims = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": ["auth", "orders", "billing"],
        "exp": int(now) + 600,
        "iat": int(now),
        "nbf": int(now),
        "jti": f"jti-{jti}",
        "sid": sid,
        "client_id": "web",
        "scope": "orders:read orders:write invoices:read sessions",
        "roles": ["user"],
        "ver": 1,
        **extra_claims,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _rate(step: Callable[[], object], batch: int = 200) -> float:
    """Operations per second of `step`, timed over about SECONDS_PER_MEASURE."""
    count = 0
    started = time.perf_counter()
    deadline = started + SECONDS_PER_MEASURE
    while time.perf_counter() < deadline or count == 0:
        for _ in range(batch):
            step()
        count += batch
    return count / (time.perf_counter() - started)


async def _async_rate(verifier: TokenVerifier, tokens: list[str], clear: bool) -> float:
    count = 0
    started = time.perf_counter()
    deadline = started + SECONDS_PER_MEASURE
    while time.perf_counter() < deadline or count == 0:
        for token in tokens:
            await verifier.verify(token)
        count += len(tokens)
        if clear:
            verifier.clear_cache()
    return count / (time.perf_counter() - started)


def run() -> dict[str, float]:
    """Measure every rate and the ratios to raw verification; about 8 seconds."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_key = key.public_key()
    now = time.time()
    tokens = [mint_access_token(key, i, now) for i in range(COLD_TOKENS)]
    token = tokens[0]
    signing_input, _, signature_b64 = token.rpartition(".")
    signature = jwt.utils.base64url_decode(signature_b64)
    message = signing_input.encode()
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    raw = _rate(lambda: public_key.verify(signature, message, pkcs1, sha256))

    verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=StaticKeySource({KID: public_key})
    )
    warm = asyncio.run(_async_rate(verifier, [token] * 200, clear=False))
    cold_verifier = TokenVerifier(
        issuer=ISSUER, audience=AUDIENCE, keys=StaticKeySource({KID: public_key})
    )
    cold = asyncio.run(_async_rate(cold_verifier, tokens, clear=True))

    pyjwt = _rate(
        lambda: jwt.decode(
            token, public_key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
        ),
        batch=50,
    )
    return {
        "raw_rsa_verify_ops_per_s": raw,
        "verifier_warm_ops_per_s": warm,
        "verifier_cold_ops_per_s": cold,
        "pyjwt_decode_ops_per_s": pyjwt,
        "verifier_warm_vs_raw": warm / raw,
        "verifier_cold_vs_raw": cold / raw,
        "pyjwt_vs_raw": pyjwt / raw,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:28} {value:14.2f}")
