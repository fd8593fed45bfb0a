"""TokenVerifier: every rejection case of DESIGN §2, the accepted shape, the verified cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tessera import InvalidTokenError, Principal, StaticKeySource, TokenVerifier

ISSUER = "http://localhost:8000"
NOW = 1_750_000_000.0
Claims = Callable[..., dict[str, Any]]
Mint = Callable[..., str]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())


async def rejects(verifier: TokenVerifier, token: str) -> InvalidTokenError:
    with pytest.raises(InvalidTokenError) as caught:
        await verifier.verify(token)
    return caught.value


async def test_a_valid_token_gives_its_principal(verifier: TokenVerifier, mint: Mint) -> None:
    token = mint()
    principal = await verifier.verify(token)
    assert principal.sub == "user-1"
    assert principal.sid == "session-1"
    assert principal.client_id == "web"
    assert principal.scopes == {"orders:read", "orders:write"}
    assert principal.roles == {"user"}
    assert principal.ver == 1
    assert principal.audience == ("auth", "orders", "billing")
    assert principal.expires_at == int(NOW) + 300
    assert principal.actor is None
    assert principal.token == token
    assert token not in repr(principal)


async def test_a_service_token_without_sid_or_roles_is_accepted(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    principal = await verifier.verify(mint(claims(sid=..., roles=..., aud="orders")))
    assert principal.sid is None
    assert principal.roles == frozenset()
    assert principal.audience == ("orders",)


async def test_an_exchanged_token_names_its_actor(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    principal = await verifier.verify(mint(claims(act={"sub": "orders"})))
    assert principal.actor == "orders"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_rejected_in_any_case(
    verifier: TokenVerifier, claims: Claims, alg: str
) -> None:
    token = unsigned({"alg": alg, "typ": "at+jwt", "kid": "key-1"}, claims()) + "."
    assert (await rejects(verifier, token)).reason == "algorithm"


def hs256_token(secret: bytes, claims: dict[str, Any]) -> str:
    signing_input = unsigned({"alg": "HS256", "typ": "at+jwt", "kid": "key-1"}, claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


async def test_hs256_signed_with_the_public_key_pem_is_rejected(
    verifier: TokenVerifier, signing_key: rsa.RSAPrivateKey, claims: Claims
) -> None:
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert (await rejects(verifier, hs256_token(pem, claims()))).reason == "algorithm"


async def test_hs256_signed_with_the_public_key_jwk_is_rejected(
    verifier: TokenVerifier, signing_key: rsa.RSAPrivateKey, claims: Claims
) -> None:
    numbers = signing_key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": "key-1",
        "n": b64url(numbers.n.to_bytes(256, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }
    secret = json.dumps(jwk).encode()
    assert (await rejects(verifier, hs256_token(secret, claims()))).reason == "algorithm"


async def test_a_valid_signature_from_another_key_with_our_kid_is_rejected(
    verifier: TokenVerifier, mint: Mint, other_key: rsa.RSAPrivateKey
) -> None:
    assert (await rejects(verifier, mint(key=other_key))).reason == "signature"


@pytest.mark.parametrize(
    ("alg", "pad", "hash_algorithm"),
    [
        ("RS512", padding.PKCS1v15(), hashes.SHA512()),
        ("PS256", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256()),
    ],
)
async def test_rs512_and_ps256_with_our_key_are_rejected(
    verifier: TokenVerifier,
    signing_key: rsa.RSAPrivateKey,
    claims: Claims,
    alg: str,
    pad: padding.AsymmetricPadding,
    hash_algorithm: hashes.HashAlgorithm,
) -> None:
    signing_input = unsigned({"alg": alg, "typ": "at+jwt", "kid": "key-1"}, claims())
    signature = signing_key.sign(signing_input.encode(), pad, hash_algorithm)
    token = signing_input + "." + b64url(signature)
    assert (await rejects(verifier, token)).reason == "algorithm"


class RecordingKeySource:
    """A real KeySource wrapper that records which kids were asked for."""

    def __init__(self, inner: StaticKeySource) -> None:
        self.inner = inner
        self.asked: list[str] = []

    async def get_key(self, kid: str) -> rsa.RSAPublicKey | None:
        self.asked.append(kid)
        return await self.inner.get_key(kid)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jwk", {"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("crit", ["exp"]),
    ],
)
async def test_a_jwk_jku_x5u_or_crit_header_is_rejected_without_fetching_anything(
    signing_key: rsa.RSAPrivateKey, mint: Mint, clock: Callable[[], float], name: str, value: Any
) -> None:
    keys = RecordingKeySource(StaticKeySource({"key-1": signing_key.public_key()}))
    verifier = TokenVerifier(issuer=ISSUER, audience="orders", keys=keys, clock=clock)
    assert (await rejects(verifier, mint(header={name: value}))).reason == "header"
    assert keys.asked == []


async def test_an_unknown_kid_is_rejected(verifier: TokenVerifier, mint: Mint) -> None:
    assert (await rejects(verifier, mint(header={"kid": "key-2"}))).reason == "unknown_kid"


@pytest.mark.parametrize("kid", [1, None, ["key-1"], {"k": "key-1"}, "", ...])
async def test_a_missing_or_non_string_kid_is_rejected(
    verifier: TokenVerifier, mint: Mint, kid: Any
) -> None:
    assert (await rejects(verifier, mint(header={"kid": kid}))).reason == "kid"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt ", "application/jwt", None, 1, ...])
async def test_a_typ_other_than_at_jwt_is_rejected(
    verifier: TokenVerifier, mint: Mint, typ: Any
) -> None:
    assert (await rejects(verifier, mint(header={"typ": typ}))).reason == "typ"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
async def test_typ_at_jwt_is_accepted_case_insensitively(
    verifier: TokenVerifier, mint: Mint, typ: str
) -> None:
    assert (await verifier.verify(mint(header={"typ": typ}))).sub == "user-1"


async def test_an_expired_token_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    token = mint(claims(exp=int(NOW) - 31))
    assert (await rejects(verifier, token)).reason == "expired"


async def test_a_token_expired_within_the_leeway_is_still_accepted(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    assert (await verifier.verify(mint(claims(exp=int(NOW) - 29)))).sub == "user-1"


async def test_a_future_nbf_beyond_the_leeway_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    token = mint(claims(nbf=int(NOW) + 31))
    assert (await rejects(verifier, token)).reason == "not_yet_valid"


async def test_a_future_iat_beyond_the_leeway_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    token = mint(claims(iat=int(NOW) + 31))
    assert (await rejects(verifier, token)).reason == "not_yet_valid"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat", "ver"])
@pytest.mark.parametrize("value", [10**400, 2**63, 1e300, -1, 253_402_300_800])
async def test_a_signed_numeric_claim_out_of_range_is_refused_not_a_crash(
    verifier: TokenVerifier, mint: Mint, claims: Claims, claim: str, value: float
) -> None:
    # a validly signed exp of 10**400 once made `exp + leeway` raise OverflowError (a 500)
    if claim == "ver" and isinstance(value, float):
        value = int(value)
    assert (await rejects(verifier, mint(claims(**{claim: value})))).reason == "claims"


@pytest.mark.parametrize(
    "missing", ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "ver"]
)
async def test_a_token_missing_a_required_claim_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims, missing: str
) -> None:
    assert (await rejects(verifier, mint(claims(**{missing: ...})))).reason in {
        "claims",
        "issuer",
    }


@pytest.mark.parametrize("aud", ["billing", ["auth", "billing"], [], "orders-evil", ["Orders"]])
async def test_a_token_for_another_audience_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims, aud: Any
) -> None:
    assert (await rejects(verifier, mint(claims(aud=aud)))).reason in {"audience", "claims"}


async def test_an_issuer_that_is_only_a_prefix_of_ours_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    token = mint(claims(iss="http://localhost:800"))
    assert (await rejects(verifier, token)).reason == "issuer"


async def test_an_issuer_that_merely_starts_with_ours_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    token = mint(claims(iss=ISSUER + ".evil.example"))
    assert (await rejects(verifier, token)).reason == "issuer"


@pytest.mark.parametrize(
    ("name", "value"),
    [("exp", str(int(NOW) + 300)), ("exp", True), ("nbf", "0"), ("iat", None), ("ver", "1")],
)
async def test_a_numeric_claim_given_as_a_string_or_bool_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims, name: str, value: Any
) -> None:
    assert (await rejects(verifier, mint(claims(**{name: value})))).reason == "claims"


@pytest.mark.parametrize("segment", [0, 1, 2])
async def test_a_padded_base64url_segment_is_rejected(
    verifier: TokenVerifier, mint: Mint, segment: int
) -> None:
    parts = mint().split(".")
    parts[segment] += "=" * (-len(parts[segment]) % 4 or 4)
    assert (await rejects(verifier, ".".join(parts))).reason == "malformed"


async def test_a_segment_with_nonzero_trailing_bits_is_rejected(
    verifier: TokenVerifier, mint: Mint
) -> None:
    header, payload, signature = mint().split(".")
    assert len(signature) % 4 == 2  # 256 bytes -> 342 chars, 4 unused bits in the last one
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last | 1]  # same bytes when decoded leniently
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(signature + "==")
    assert (await rejects(verifier, f"{header}.{payload}.{twin}")).reason == "malformed"


@pytest.mark.parametrize("replacement", [("-", "+"), ("_", "/")])
async def test_standard_base64_characters_are_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims, replacement: tuple[str, str]
) -> None:
    # Find a token whose signature uses the URL-safe character, then use the standard twin.
    for jti in range(50):
        token = mint(claims(jti=f"jti-{jti}"))
        if replacement[0] in token.split(".")[2]:
            break
    forged = token.replace(replacement[0], replacement[1])
    assert (await rejects(verifier, forged)).reason == "malformed"


@pytest.mark.parametrize("token_shape", ["a.b", "a.b.c.d", "a.b.c.d.e", "abc", ".."])
async def test_a_token_with_the_wrong_number_of_segments_is_rejected(
    verifier: TokenVerifier, token_shape: str
) -> None:
    assert (await rejects(verifier, token_shape)).reason == "malformed"


async def test_an_oversized_token_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    token = mint(claims(padding="x" * 8192))
    assert (await rejects(verifier, token)).reason == "too_large"


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "Bearer x", "ey.ey.ey", "\u00e9.\u00e9.\u00e9", "....", "e30.e30.", "W10.e30."],
)
async def test_garbage_is_rejected(verifier: TokenVerifier, garbage: str) -> None:
    await rejects(verifier, garbage)


async def test_duplicate_header_members_are_rejected(
    verifier: TokenVerifier, signing_key: rsa.RSAPrivateKey, claims: Claims
) -> None:
    header = '{"alg":"RS256","typ":"at+jwt","kid":"key-1","alg":"none"}'
    signing_input = b64url(header.encode()) + "." + b64url(json.dumps(claims()).encode())
    signature = signing_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert (await rejects(verifier, signing_input + "." + b64url(signature))).reason == "malformed"


async def test_a_tampered_payload_is_rejected(
    verifier: TokenVerifier, mint: Mint, claims: Claims
) -> None:
    header, _, signature = mint().split(".")
    payload = b64url(json.dumps(claims(roles=["admin"])).encode())
    assert (await rejects(verifier, f"{header}.{payload}.{signature}")).reason == "signature"


class CountingKeySource(StaticKeySource):
    """A StaticKeySource that counts lookups, to show when verification really ran."""

    lookups = 0

    async def get_key(self, kid: str) -> rsa.RSAPublicKey | None:
        self.lookups += 1
        return await super().get_key(kid)


def counting_verifier(
    key: rsa.RSAPrivateKey, now: list[float], **kwargs: Any
) -> tuple[TokenVerifier, CountingKeySource]:
    keys = CountingKeySource({"key-1": key.public_key()})
    verifier = TokenVerifier(
        issuer=ISSUER, audience="orders", keys=keys, clock=lambda: now[0], **kwargs
    )
    return verifier, keys


async def test_a_verified_token_is_served_from_the_cache_until_it_expires(
    signing_key: rsa.RSAPrivateKey, mint: Mint
) -> None:
    now = [NOW]
    verifier, keys = counting_verifier(signing_key, now)
    token = mint()
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    assert keys.lookups == 1
    now[0] = NOW + 301  # past exp, inside the leeway: verified afresh, not served from cache
    await verifier.verify(token)
    assert keys.lookups == 2
    now[0] = NOW + 331
    assert (await rejects(verifier, token)).reason == "expired"


async def test_the_cache_is_bounded_in_size(
    signing_key: rsa.RSAPrivateKey, mint: Mint, claims: Claims
) -> None:
    verifier, keys = counting_verifier(signing_key, [NOW], cache_size=2)
    tokens = [mint(claims(jti=f"jti-{i}")) for i in range(3)]
    for token in tokens:
        await verifier.verify(token)
    await verifier.verify(tokens[0])  # evicted first, so verified again
    assert keys.lookups == 4


async def test_the_revocation_check_runs_on_cache_hits_too(
    signing_key: rsa.RSAPrivateKey, mint: Mint
) -> None:
    revoked: set[str] = set()

    def revocation_check(principal: Principal) -> str | None:
        return "The session has been revoked" if principal.sid in revoked else None

    verifier, _ = counting_verifier(signing_key, [NOW], revocation_check=revocation_check)
    token = mint()
    await verifier.verify(token)
    revoked.add("session-1")
    error = await rejects(verifier, token)
    assert (error.reason, error.description) == ("revoked", "The session has been revoked")


async def test_forgetting_a_key_drops_the_tokens_it_signed(
    signing_key: rsa.RSAPrivateKey, mint: Mint
) -> None:
    verifier, keys = counting_verifier(signing_key, [NOW])
    token = mint()
    await verifier.verify(token)
    assert verifier.forget_key("key-1") == 1
    await verifier.verify(token)
    assert keys.lookups == 2


class RevocableKeys(CountingKeySource):
    """A caching key source, like the JWKS cache, that can be told a key is revoked."""

    def forget_key(self, kid: str) -> None:
        self._keys.pop(kid, None)


async def test_forgetting_a_key_also_drops_it_from_a_key_source_that_caches_keys(
    signing_key: rsa.RSAPrivateKey, mint: Mint
) -> None:
    keys = RevocableKeys({"key-1": signing_key.public_key()})
    verifier = TokenVerifier(issuer=ISSUER, audience="orders", keys=keys, clock=lambda: NOW)
    token = mint()
    await verifier.verify(token)

    verifier.forget_key("key-1")

    assert (await rejects(verifier, token)).reason == "unknown_kid"
