"""JwksCache against a real JWKS document served through an httpx transport."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from tessera import JwksCache

from .manual_clock import ManualClock


def b64url_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": b64url_int(numbers.n),
        "e": b64url_int(numbers.e),
        **extra,
    }


class JwksServer:
    """Serves a JWKS document like auth does; can be taken down; counts requests."""

    def __init__(self, keys: list[dict[str, Any]], cache_control: str = "max-age=300") -> None:
        self.keys = keys
        self.cache_control = cache_control
        self.up = True
        self.requests = 0
        self.not_modified = 0
        self.delay = 0.0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(json.dumps(self.keys).encode()).hexdigest()[:16] + '"'

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.up:
            return httpx.Response(503, json={"title": "down"})
        headers = {"Cache-Control": self.cache_control, "ETag": self.etag}
        if request.headers.get("if-none-match") == self.etag:
            self.not_modified += 1
            return httpx.Response(304, headers=headers)
        return httpx.Response(200, json={"keys": self.keys}, headers=headers)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def cache_for(server: JwksServer, clock: ManualClock, **kwargs: Any) -> JwksCache:
    return JwksCache(
        url="http://auth.internal/.well-known/jwks.json",
        http_client=server.client(),
        clock=clock,
        retry_initial_seconds=0,
        **kwargs,
    )


async def test_start_loads_the_keys_and_becomes_ready(
    signing_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "key-1")])
    cache = cache_for(server, clock)
    assert not cache.ready
    await cache.start()
    try:
        assert cache.ready
        key = await cache.get_key("key-1")
        assert key is not None
        assert key.public_numbers() == signing_key.public_key().public_numbers()
    finally:
        await cache.aclose()


async def test_start_returns_unready_when_auth_is_down_and_a_miss_loads_later(
    signing_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "key-1")])
    server.up = False
    cache = cache_for(server, clock, startup_attempts=2)
    await cache.start()
    try:
        assert not cache.ready
        assert server.requests == 2
        server.up = True
        assert await cache.get_key("key-1") is not None
        assert cache.ready
    finally:
        await cache.aclose()


async def test_a_flood_of_garbage_kids_costs_one_fetch_per_cooldown(
    signing_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "key-1")])
    cache = cache_for(server, clock, refresh_cooldown_seconds=30)
    await cache.start()
    try:
        assert server.requests == 1
        server.delay = 0.01
        concurrent = await asyncio.gather(*(cache.get_key(f"garbage-{i}") for i in range(500)))
        sequential = [await cache.get_key(f"garbage-{i}") for i in range(500, 1000)]
        assert set(concurrent) | set(sequential) == {None}
        assert server.requests == 2  # the start-up load plus one shared refetch
        clock.now += 31
        assert await cache.get_key("garbage-again") is None
        assert server.requests == 3
    finally:
        await cache.aclose()


async def test_an_unknown_kid_that_auth_just_published_is_found_by_refetching(
    signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "key-1")])
    cache = cache_for(server, clock)
    await cache.start()
    try:
        server.keys = [rsa_jwk(signing_key, "key-1"), rsa_jwk(other_key, "key-2")]
        assert await cache.get_key("key-2") is not None
    finally:
        await cache.aclose()


async def test_keys_are_kept_when_auth_becomes_unreachable(
    signing_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "key-1")], cache_control="max-age=60")
    cache = cache_for(server, clock)
    await cache.start()
    try:
        server.up = False
        clock.now += 61
        assert await cache.refresh_if_due()
        assert server.requests == 2
        assert cache.ready
        assert await cache.get_key("key-1") is not None
    finally:
        await cache.aclose()


async def test_keys_are_refreshed_when_max_age_has_elapsed_and_not_before(
    signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "key-1")], cache_control="public, max-age=120")
    cache = cache_for(server, clock)
    await cache.start()
    try:
        server.keys = [rsa_jwk(other_key, "key-2")]
        clock.now += 119
        assert cache.seconds_until_refresh() == pytest.approx(1)
        assert not await cache.refresh_if_due()
        assert cache.kids == {"key-1"}
        clock.now += 1
        assert await cache.refresh_if_due()
        assert cache.kids == {"key-2"}
    finally:
        await cache.aclose()


async def test_only_rsa_signing_keys_for_rs256_are_accepted(
    signing_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    ec_numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    server = JwksServer(
        [
            rsa_jwk(signing_key, "good"),
            rsa_jwk(signing_key, "no-alg", alg=None, use=None),
            rsa_jwk(signing_key, "rs512", alg="RS512"),
            rsa_jwk(signing_key, "encryption", use="enc"),
            rsa_jwk(small, "too-small"),
            {
                "kty": "EC",
                "kid": "ec",
                "crv": "P-256",
                "x": b64url_int(ec_numbers.x),
                "y": b64url_int(ec_numbers.y),
            },
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            rsa_jwk(signing_key, "padded", n=b64url_int(7) + "=="),
        ]
    )
    server.keys = [{k: v for k, v in jwk.items() if v is not None} for jwk in server.keys]
    cache = cache_for(server, clock)
    await cache.start()
    try:
        assert cache.kids == {"good", "no-alg"}
    finally:
        await cache.aclose()


async def test_an_unchanged_key_set_is_revalidated_with_its_etag(
    signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "key-1")], cache_control="max-age=60")
    cache = cache_for(server, clock)
    await cache.start()
    try:
        clock.now += 60
        assert await cache.refresh_if_due()
        assert server.not_modified == 1
        assert cache.kids == {"key-1"}
        # the 304 restarted the max-age period like a full answer would
        assert cache.seconds_until_refresh() == pytest.approx(60)

        server.keys = [rsa_jwk(signing_key, "key-1"), rsa_jwk(other_key, "key-2")]
        clock.now += 60
        assert await cache.refresh_if_due()
        assert cache.kids == {"key-1", "key-2"}
        assert server.not_modified == 1
    finally:
        await cache.aclose()


async def test_a_revoked_key_is_dropped_refused_even_if_still_listed_and_refetched_at_once(
    signing_key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    server = JwksServer([rsa_jwk(signing_key, "compromised")])
    cache = cache_for(server, clock, refresh_cooldown_seconds=3600)
    await cache.start()
    try:
        assert await cache.get_key("garbage") is None  # spends the unknown-kid cooldown
        requests, not_modified = server.requests, server.not_modified
        # auth has already activated the replacement; one replica still lists the old key
        server.keys = [rsa_jwk(signing_key, "compromised"), rsa_jwk(other_key, "replacement")]

        cache.forget_key("compromised")
        assert await cache.get_key("compromised") is None

        for _ in range(100):  # the background task refetches without waiting for the cooldown
            if "replacement" in cache.kids:
                break
            await asyncio.sleep(0.01)
        assert cache.kids == {"replacement"}
        assert server.requests == requests + 1
        assert server.not_modified == not_modified  # a full read, not a revalidation
    finally:
        await cache.aclose()


async def test_short_max_ages_are_honoured_down_to_a_second(
    signing_key: rsa.RSAPrivateKey, clock: ManualClock
) -> None:
    """auth publishes a next key one max-age before it signs; a verifier that refreshed less
    often than max-age could miss it, so short max-ages are honoured (floored at 1 s)."""
    for max_age, expected in (("2", 2), ("0", 1)):
        server = JwksServer([rsa_jwk(signing_key, "key-1")], cache_control=f"max-age={max_age}")
        cache = cache_for(server, clock)
        await cache.start()
        try:
            assert cache.seconds_until_refresh() == pytest.approx(expected)
        finally:
            await cache.aclose()
