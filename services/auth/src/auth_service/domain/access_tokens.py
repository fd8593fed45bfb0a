"""Minting access tokens (DESIGN §2): RS256 JWTs with `kid`, `typ: at+jwt` and the full claim set.

`AccessTokenGrant` says *what* a token grants; `AccessTokenIssuer` turns it into a signed JWT with
the configured issuer, lifetime and clock. User logins use `grant_for_user`; refresh, service
and exchanged tokens (later issues) build their own grants, e.g. with an `actor` and a narrower
audience, and may cap the expiry with `not_after` (an exchanged token never outlives its
subject token).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from auth_service.domain.keys import ALGORITHM, KeyRing
from auth_service.domain.sessions import Session
from auth_service.domain.users import Role, User

TOKEN_TYPE = "at+jwt"  # noqa: S105 (the JWT typ header, not a secret)
USER_AUDIENCE = ("auth", "orders", "billing")
USER_SCOPES = ("orders:read", "orders:write", "invoices:read", "sessions")
ADMIN_SCOPES = ("admin",)


def scopes_for(roles: frozenset[Role]) -> tuple[str, ...]:
    """The scopes a user's roles entitle them to."""
    return USER_SCOPES + ADMIN_SCOPES if Role.ADMIN in roles else USER_SCOPES


@dataclass(frozen=True)
class AccessTokenGrant:
    """The identity and rights one access token carries."""

    subject: str
    session_id: str | None
    client_id: str
    audience: tuple[str, ...]
    scopes: tuple[str, ...]
    roles: tuple[str, ...]
    token_version: int
    actor: str | None = None
    not_after: int | None = None
    auth_time: int | None = None
    """How the user last authenticated (DESIGN §11): `auth_time`, `acr`, `amr` claims."""
    acr: str | None = None
    amr: tuple[str, ...] = ()


def grant_for_user(user: User, session: Session) -> AccessTokenGrant:
    """What a signed-in user's access token grants, in `session` (whose authentication it
    states)."""
    return AccessTokenGrant(
        subject=str(user.id),
        session_id=session.id,
        client_id=session.client_id,
        audience=USER_AUDIENCE,
        scopes=scopes_for(user.roles),
        roles=tuple(sorted(user.roles)),
        token_version=user.token_version,
        auth_time=session.auth_time,
        acr=session.acr,
        amr=tuple(session.amr),
    )


@dataclass(frozen=True)
class IssuedAccessToken:
    """A signed token and what a token response needs to say about it."""

    token: str
    jti: str
    expires_in: int
    expires_at: int


class AccessTokenIssuer:
    """Signs access tokens with the key ring's active key."""

    def __init__(
        self,
        *,
        issuer: str,
        keys: KeyRing,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._keys = keys
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(self, grant: AccessTokenGrant) -> IssuedAccessToken:
        now = int(self._clock())
        expires_at = now + self._ttl
        if grant.not_after is not None:
            expires_at = min(expires_at, grant.not_after)
        jti = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "sub": grant.subject,
            "aud": list(grant.audience),
            "exp": expires_at,
            "iat": now,
            "nbf": now,
            "jti": jti,
            "client_id": grant.client_id,
            "scope": " ".join(grant.scopes),
            "roles": list(grant.roles),
            "ver": grant.token_version,
        }
        if grant.session_id is not None:
            claims["sid"] = grant.session_id
        if grant.actor is not None:
            claims["act"] = {"sub": grant.actor}
        if grant.auth_time is not None:
            claims["auth_time"] = grant.auth_time
        if grant.acr is not None:
            claims["acr"] = grant.acr
        if grant.amr:
            claims["amr"] = list(grant.amr)
        key = self._keys.signing_key
        token = jwt.encode(
            claims,
            key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": key.kid, "typ": TOKEN_TYPE},
        )
        return IssuedAccessToken(
            token=token, jti=jti, expires_in=expires_at - now, expires_at=expires_at
        )
