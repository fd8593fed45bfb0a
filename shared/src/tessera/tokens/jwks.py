"""Where verifiers get public keys: the KeySource protocol and the JWKS cache.

The cache never fetches per request. It loads at start-up (retrying in the background while
auth is unreachable), refreshes on the JWKS response's Cache-Control max-age (revalidating with
its ETag: an unchanged key set costs auth a 304), refetches at once when a token names an
unknown `kid` but at most once per cooldown (so a flood of garbage `kid`s costs auth one
request), and keeps the keys it has when auth is down (stale-if-error).

Key rotation needs nothing more: auth publishes a new key as `next` at least one max-age before
it signs with it, so every cache holds it by then. Emergency revocation arrives on the
revocation feed: `forget_key` drops the key at once, refuses it even if a JWKS still lists it,
and refetches immediately (no cooldown) to learn the key that replaced it.
Only RSA signing keys for RS256 of at least 2048 bits are accepted; anything else is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from tessera.background import BackgroundTask, wait_for_event
from tessera.keep_alive import client_limits
from tessera.metrics import JWKS_FETCH_FAILURES, JWKS_FETCHES, JWKS_KEYS
from tessera.tokens.segments import decode_segment

logger = logging.getLogger(__name__)

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
MIN_RSA_KEY_BITS = 2048
MAX_REVOKED_KIDS = 1024
"""Revoked kids a cache remembers (keys are revoked rarely; this only bounds the memory)."""


class KeySource(Protocol):
    """Gives the verifier the public key for a `kid`; None means the kid is unknown."""

    async def get_key(self, kid: str) -> RSAPublicKey | None: ...


@runtime_checkable
class RevocableKeySource(KeySource, Protocol):
    """A KeySource that caches keys and can be told one is revoked (`TokenVerifier.forget_key`)."""

    def forget_key(self, kid: str) -> None: ...


class StaticKeySource:
    """A fixed set of keys, e.g. for auth verifying its own tokens without a network hop."""

    def __init__(self, keys: Mapping[str, RSAPublicKey]) -> None:
        self._keys = dict(keys)

    async def get_key(self, kid: str) -> RSAPublicKey | None:
        return self._keys.get(kid)


class JwksFetchError(Exception):
    """Raised (internally) when the JWKS cannot be fetched or holds no usable key."""


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The usable RS256 keys of a JWKS document, by kid; unusable entries are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksFetchError("JWKS document has no 'keys' list")
    keys: dict[str, RSAPublicKey] = {}
    for jwk in document["keys"]:
        parsed = _parse_rsa_jwk(jwk)
        if parsed is not None and parsed[0] not in keys:
            keys[parsed[0]] = parsed[1]
    return keys


def _parse_rsa_jwk(jwk: Any) -> tuple[str, RSAPublicKey] | None:
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        return None
    kid, alg, use, n, e = (jwk.get(name) for name in ("kid", "alg", "use", "n", "e"))
    if not isinstance(kid, str) or not kid:
        return None
    if alg not in (None, "RS256") or use not in (None, "sig"):
        return None
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    if not isinstance(n, str) or not isinstance(e, str):
        return None
    try:
        modulus = int.from_bytes(decode_segment(n), "big")
        exponent = int.from_bytes(decode_segment(e), "big")
        key = RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        return None
    if key.key_size < MIN_RSA_KEY_BITS:
        return None
    return kid, key


def max_age_of(cache_control: str | None) -> float | None:
    """The max-age of a Cache-Control header, or None when absent."""
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


class JwksCache:
    """A KeySource backed by auth's JWKS endpoint. See the module docstring for the policy.

    Example::

        keys = JwksCache(url=settings.JWKS_URL)
        await keys.start()          # returns even if auth is down; retries in the background
        ...
        await keys.aclose()
    """

    def __init__(
        self,
        *,
        url: str,
        http_client: httpx.AsyncClient | None = None,
        refresh_cooldown_seconds: float = 30,
        default_max_age_seconds: float = 300,
        min_refresh_seconds: float = 1,
        max_refresh_seconds: float = 3600,
        retry_initial_seconds: float = 0.5,
        retry_max_seconds: float = 30,
        startup_attempts: int = 3,
        timeout_seconds: float = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=timeout_seconds, limits=client_limits()
        )
        self._cooldown = refresh_cooldown_seconds
        self._default_max_age = default_max_age_seconds
        self._min_refresh = min_refresh_seconds
        self._max_refresh = max_refresh_seconds
        self._retry_initial = retry_initial_seconds
        self._retry_max = retry_max_seconds
        self._startup_attempts = startup_attempts
        self._clock = clock
        self._keys: dict[str, RSAPublicKey] = {}
        self._revoked: dict[str, None] = {}  # insertion-ordered set, oldest dropped first
        self._etag: str | None = None
        self._wake = asyncio.Event()
        self._loaded = False
        self._next_refresh_at = 0.0
        self._retry_delay = retry_initial_seconds
        self._last_miss_fetch_at: float | None = None
        self._in_flight: asyncio.Task[bool] | None = None
        self._refresher = BackgroundTask("jwks-refresh", self._refresh_forever)

    @property
    def ready(self) -> bool:
        """Whether a JWKS has been loaded at least once (stale keys still count)."""
        return self._loaded

    @property
    def kids(self) -> frozenset[str]:
        """The key ids currently held."""
        return frozenset(self._keys)

    async def start(self) -> None:
        """Load the keys (a few quick attempts), then keep them fresh in the background."""
        delay = self._retry_initial
        for attempt in range(self._startup_attempts):
            if await self._fetch("startup"):
                break
            if attempt + 1 < self._startup_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
        self._refresher.start()

    async def aclose(self) -> None:
        """Stop the background refresh and close the HTTP client if it is ours."""
        await self._refresher.stop()
        if self._in_flight is not None:
            self._in_flight.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._in_flight
            self._in_flight = None
        if self._owns_client:
            await self._client.aclose()

    async def get_key(self, kid: str) -> RSAPublicKey | None:
        """The key for `kid`; an unknown kid triggers one refetch per cooldown, shared."""
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._in_flight is None:
            now = self._clock()
            if self._last_miss_fetch_at is not None and now - self._last_miss_fetch_at < (
                self._cooldown
            ):
                return None
            self._last_miss_fetch_at = now
        await self._fetch("unknown_kid")
        return self._keys.get(kid)

    def forget_key(self, kid: str) -> None:
        """A revoked key: dropped now, never used again, and the JWKS refetched at once."""
        self._revoked[kid] = None
        while len(self._revoked) > MAX_REVOKED_KIDS:
            del self._revoked[next(iter(self._revoked))]
        if self._keys.pop(kid, None) is not None:
            JWKS_KEYS.set(len(self._keys))
        self._etag = None  # the next fetch must read the whole document again
        self._wake.set()  # the background task refetches now, whatever the cooldown

    def seconds_until_refresh(self) -> float:
        """How long the background task waits before its next refresh."""
        return max(0.0, self._next_refresh_at - self._clock())

    async def refresh_if_due(self) -> bool:
        """Refetch when max-age (or the retry back-off) has elapsed; True if a fetch ran."""
        if self._clock() < self._next_refresh_at:
            return False
        await self._fetch("max_age")
        return True

    async def _refresh_forever(self) -> None:
        while True:
            # The floor keeps a zero retry delay (or a clock that stands still) from spinning.
            if await wait_for_event(self._wake, max(self.seconds_until_refresh(), 0.05)):
                self._wake.clear()
                await self._fetch("key_revoked")
                continue
            await self.refresh_if_due()

    async def _fetch(self, trigger: str) -> bool:
        """Run one fetch, or join the one already in flight; True when keys were loaded."""
        if self._in_flight is None:
            self._in_flight = asyncio.create_task(self._fetch_once(trigger))
            self._in_flight.add_done_callback(self._clear_in_flight)
        return await asyncio.shield(self._in_flight)

    def _clear_in_flight(self, task: asyncio.Task[bool]) -> None:
        if self._in_flight is task:
            self._in_flight = None

    async def _fetch_once(self, trigger: str) -> bool:
        JWKS_FETCHES.labels(trigger).inc()
        headers = {"Accept": "application/json"}
        if self._etag is not None and self._loaded:
            headers["If-None-Match"] = self._etag
        try:
            response = await self._client.get(self._url, headers=headers)
            if response.status_code == httpx.codes.NOT_MODIFIED and self._loaded:
                keys = self._keys
            else:
                response.raise_for_status()
                keys = parse_jwks(response.json())
                keys = {kid: key for kid, key in keys.items() if kid not in self._revoked}
                if not keys:
                    raise JwksFetchError("JWKS holds no usable RS256 key")
        except (httpx.HTTPError, ValueError, JwksFetchError) as exc:
            JWKS_FETCH_FAILURES.inc()
            self._next_refresh_at = self._clock() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, self._retry_max)
            logger.warning(
                "JWKS fetch failed; keeping %d cached key(s)",
                len(self._keys),
                extra={"jwks_url": self._url, "error": type(exc).__name__, "trigger": trigger},
            )
            return False
        self._keys = keys
        self._etag = response.headers.get("etag")
        self._loaded = True
        JWKS_KEYS.set(len(keys))
        self._retry_delay = self._retry_initial
        max_age = max_age_of(response.headers.get("cache-control"))
        refresh_in = self._default_max_age if max_age is None else max_age
        refresh_in = min(max(refresh_in, self._min_refresh), self._max_refresh)
        self._next_refresh_at = self._clock() + refresh_in
        return True
