"""TokenVerifier: the one implementation of the access-token policy of DESIGN §2.

Checks, in order (each failure is an InvalidTokenError with a metrics `reason`):
size (<= 8 KiB, ASCII) -> three canonical base64url segments -> header: a JSON object with
`alg` exactly RS256 (pinned, never taken from the token), a string `kid`, `typ` at+jwt, and no
`jwk`/`jku`/`x5u`/`x5c`/`crit` -> key for the kid (unknown -> reject; no URL in a token is
ever fetched) -> RS256 signature with `cryptography` -> claims: required and well typed
(numbers are int/float and in range, never bool or str), `iss` exact, `aud` contains ours,
`exp`/`nbf`/`iat` within the leeway -> the revocation hook, which also runs on every cache hit.

Verified tokens are cached (exact token string -> Principal) until their `exp`, bounded in size,
so a repeated token costs a dict lookup and an expiry check.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tessera.metrics import TOKEN_VERIFICATION_FAILURES
from tessera.tokens.errors import InvalidTokenError
from tessera.tokens.jwks import KeySource, RevocableKeySource
from tessera.tokens.principal import Principal
from tessera.tokens.segments import decode_segment

MAX_TOKEN_BYTES = 8 * 1024
MAX_TIMESTAMP = 253_402_300_799
"""9999-12-31T23:59:59Z: the largest `exp`/`nbf`/`iat` accepted (any larger is an attack)."""
MAX_VERSION = 2**31 - 1
"""The largest `ver` (auth stores it in a 32-bit column)."""
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
HEADER_CACHE_SIZE = 64
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()

RevocationCheck = Callable[[Principal], str | None]
"""Returns why a verified principal is revoked (shown to the caller), or None."""


class TokenVerifier:
    """Verifies RS256 access tokens for one issuer and one audience.

    Example::

        verifier = TokenVerifier(issuer=settings.ISSUER, audience="orders", keys=jwks_cache)
        principal = await verifier.verify(token)   # or InvalidTokenError
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: KeySource,
        leeway_seconds: float = 30,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
        revocation_check: RevocationCheck | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.revocation_check = revocation_check
        self._keys = keys
        self._leeway = leeway_seconds
        self._clock = clock
        self._cache_size = cache_size
        # token -> (principal, kid); insertion order gives FIFO eviction.
        self._cache: dict[str, tuple[Principal, str]] = {}
        # Every token signed by one key has the same header segment: its checks run once.
        self._checked_headers: dict[str, str] = {}

    async def verify(self, token: str) -> Principal:
        """The Principal of a valid token; InvalidTokenError otherwise."""
        try:
            cached = self._cache.get(token)
            if cached is not None and self._clock() < cached[0].expires_at:
                principal = cached[0]
            else:
                if cached is not None:
                    self._cache.pop(token, None)
                principal = await self._verify_uncached(token)
            self._check_revocation(principal)
        except InvalidTokenError as exc:
            TOKEN_VERIFICATION_FAILURES.labels(exc.reason).inc()
            raise
        return principal

    def forget_key(self, kid: str) -> int:
        """Emergency key revocation: drop every cached token signed by `kid` (returns how many),
        and the key itself from a key source that caches keys (the JWKS cache)."""
        if isinstance(self._keys, RevocableKeySource):
            self._keys.forget_key(kid)
        doomed = [token for token, (_, signer) in self._cache.items() if signer == kid]
        for token in doomed:
            del self._cache[token]
        return len(doomed)

    def cached_token_count(self) -> int:
        """How many verified tokens are cached."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Forget every verified token."""
        self._cache.clear()

    def _check_revocation(self, principal: Principal) -> None:
        if self.revocation_check is not None:
            reason = self.revocation_check(principal)
            if reason is not None:
                raise InvalidTokenError(reason, reason="revoked")

    async def _verify_uncached(self, token: Any) -> Principal:
        if not isinstance(token, str) or not token:
            raise InvalidTokenError("The token is empty", reason="malformed")
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidTokenError("The token is too large", reason="too_large")
        if not token.isascii():
            raise InvalidTokenError("The token is malformed", reason="malformed")
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidTokenError("The token must have three segments", reason="malformed")
        header_b64, payload_b64, signature_b64 = parts
        try:
            payload_bytes = decode_segment(payload_b64)
            signature = decode_segment(signature_b64)
        except ValueError:
            raise InvalidTokenError("The token is malformed", reason="malformed") from None
        kid = self._checked_headers.get(header_b64) or self._check_header(header_b64)
        key = await self._keys.get_key(kid)
        if key is None:
            raise InvalidTokenError("The token is signed with an unknown key", reason="unknown_kid")
        signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
        try:
            key.verify(signature, signing_input, _PKCS1V15, _SHA256)
        except InvalidSignature:
            raise InvalidTokenError("The token signature is invalid", reason="signature") from None
        claims = _json_object(payload_bytes)
        if claims is None:
            raise InvalidTokenError("The token claims are malformed", reason="malformed")
        principal = self._principal_from(claims, token, kid)
        self._remember(token, principal, kid)
        return principal

    def _check_header(self, header_b64: str) -> str:
        """The kid of a header that passes every check; remembered for the next token."""
        try:
            header = _json_object(decode_segment(header_b64))
        except ValueError:
            header = None
        if header is None:
            raise InvalidTokenError("The token header is malformed", reason="malformed")
        if header.get("alg") != "RS256":
            raise InvalidTokenError("The token algorithm is not accepted", reason="algorithm")
        if not FORBIDDEN_HEADERS.isdisjoint(header):
            raise InvalidTokenError("The token header is not accepted", reason="header")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES:
            raise InvalidTokenError("The token is not an access token", reason="typ")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("The token has no valid key id", reason="kid")
        if len(self._checked_headers) >= HEADER_CACHE_SIZE:
            self._checked_headers.clear()
        self._checked_headers[header_b64] = kid
        return kid

    def _principal_from(self, claims: dict[str, Any], token: str, kid: str) -> Principal:
        iss = _string(claims, "iss")
        if iss != self.issuer:
            raise InvalidTokenError("The token issuer is not trusted", reason="issuer")
        audience = _audience(claims)
        if self.audience not in audience:
            raise InvalidTokenError("The token is not meant for this service", reason="audience")
        exp, nbf, iat = (_timestamp(claims, name) for name in ("exp", "nbf", "iat"))
        now = self._clock()
        if exp + self._leeway <= now:
            raise InvalidTokenError("The token has expired", reason="expired")
        if nbf - self._leeway > now:
            raise InvalidTokenError("The token is not valid yet", reason="not_yet_valid")
        if iat - self._leeway > now:
            raise InvalidTokenError("The token was issued in the future", reason="not_yet_valid")
        sid = claims.get("sid")
        if sid is not None and not isinstance(sid, str):
            raise InvalidTokenError("The token claim 'sid' is malformed", reason="claims")
        return Principal(
            sub=_string(claims, "sub"),
            sid=sid,
            client_id=_string(claims, "client_id"),
            scopes=frozenset(_string(claims, "scope", allow_empty=True).split()),
            roles=_roles(claims),
            ver=_integer(claims, "ver", maximum=MAX_VERSION),
            jti=_string(claims, "jti"),
            issued_at=math.floor(iat),
            expires_at=math.floor(exp),
            audience=audience,
            actor=_actor(claims),
            token=token,
            kid=kid,
            auth_time=_optional_timestamp(claims, "auth_time"),
            amr=_amr(claims),
            acr=_optional_string(claims, "acr"),
        )

    def now(self) -> float:
        """The verifier's clock (seconds since the epoch), for checks made after verifying."""
        return self._clock()

    def _remember(self, token: str, principal: Principal, kid: str) -> None:
        if self._cache_size <= 0:
            return
        if len(self._cache) >= self._cache_size:
            now = self._clock()
            expired = [t for t, (p, _) in self._cache.items() if p.expires_at <= now]
            for stale in expired:
                del self._cache[stale]
            while len(self._cache) >= self._cache_size:
                del self._cache[next(iter(self._cache))]
        self._cache[token] = (principal, kid)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates)


def _json_object(data: bytes) -> dict[str, Any] | None:
    """The JSON object in `data` (UTF-8, no duplicate members), or None."""
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _missing(name: str) -> InvalidTokenError:
    return InvalidTokenError(f"The token claim '{name}' is missing or malformed", reason="claims")


def _string(claims: dict[str, Any], name: str, *, allow_empty: bool = False) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not (value or allow_empty):
        raise _missing(name)
    return value


def _timestamp(claims: dict[str, Any], name: str) -> float:
    """A NumericDate (RFC 7519 §2) from 0 to MAX_TIMESTAMP: checked before any arithmetic, so a
    validly signed `exp` of 10**400 is refused, not an OverflowError."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _missing(name)
    if not (isinstance(value, int) or math.isfinite(value)) or not 0 <= value <= MAX_TIMESTAMP:
        raise _missing(name)
    return value


def _optional_timestamp(claims: dict[str, Any], name: str) -> int | None:
    return None if name not in claims else math.floor(_timestamp(claims, name))


def _optional_string(claims: dict[str, Any], name: str) -> str | None:
    return None if name not in claims else _string(claims, name)


def _amr(claims: dict[str, Any]) -> tuple[str, ...]:
    """RFC 8176 method references: a list of strings, or absent."""
    amr = claims.get("amr", [])
    if not isinstance(amr, list) or not all(isinstance(item, str) and item for item in amr):
        raise _missing("amr")
    return tuple(amr)


def _integer(claims: dict[str, Any], name: str, *, maximum: int) -> int:
    """A whole number from 0 to `maximum`."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise _missing(name)
    return value


def _audience(claims: dict[str, Any]) -> tuple[str, ...]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
        return tuple(aud)
    raise _missing("aud")


def _roles(claims: dict[str, Any]) -> frozenset[str]:
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _missing("roles")
    return frozenset(roles)


def _actor(claims: dict[str, Any]) -> str | None:
    if "act" not in claims:
        return None
    act = claims["act"]
    if not isinstance(act, dict) or not isinstance(act.get("sub"), str):
        raise _missing("act")
    actor: str = act["sub"]
    return actor
