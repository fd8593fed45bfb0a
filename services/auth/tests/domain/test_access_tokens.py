"""Access tokens carry exactly the DESIGN §2 claims and verify with the shared verifier."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jwt
import pytest
from auth_service.config import Settings
from auth_service.domain.access_tokens import (
    AccessTokenGrant,
    AccessTokenIssuer,
    grant_for_user,
)
from auth_service.domain.keys import KeyRing, generate_signing_key
from auth_service.domain.sessions import Session
from auth_service.domain.users import Role, User
from pydantic import ValidationError
from tessera import InvalidTokenError, TokenVerifier

ISSUER = "https://auth.example.test"
NOW = 1_750_000_000


def make_user(*roles: Role, token_version: int = 1) -> User:
    return User(
        id=uuid.uuid4(),
        email="ada@example.com",
        password_hash="unused",
        roles=frozenset(roles or (Role.USER,)),
        token_version=token_version,
        created_at=datetime.now(UTC),
    )


@pytest.fixture(scope="module")
def keys() -> KeyRing:
    return KeyRing(generate_signing_key())


def session_of(user: User, session_id: str, client_id: str = "web") -> Session:
    """A session signed in with a password at NOW - 60."""
    signed_in = datetime.fromtimestamp(NOW - 60, UTC)
    return Session(
        id=session_id,
        user_id=user.id,
        client_id=client_id,
        user_agent=None,
        ip=None,
        created_at=signed_in,
        last_used_at=signed_in,
    )


def issuer_at(keys: KeyRing, now: float, ttl: int = 300) -> AccessTokenIssuer:
    return AccessTokenIssuer(issuer=ISSUER, keys=keys, ttl_seconds=ttl, clock=lambda: now)


def test_a_user_token_carries_every_claim_and_header_of_design_section_2(keys: KeyRing) -> None:
    user = make_user(token_version=4)
    issued = issuer_at(keys, NOW).issue(grant_for_user(user, session_of(user, "s1", "mobile")))

    header = jwt.get_unverified_header(issued.token)
    claims = jwt.decode(issued.token, options={"verify_signature": False})

    assert header == {"alg": "RS256", "kid": keys.signing_key.kid, "typ": "at+jwt"}
    assert claims == {
        "iss": ISSUER,
        "sub": str(user.id),
        "aud": ["auth", "orders", "billing"],
        "exp": NOW + 300,
        "iat": NOW,
        "nbf": NOW,
        "jti": issued.jti,
        "sid": "s1",
        "client_id": "mobile",
        "scope": "orders:read orders:write invoices:read sessions",
        "roles": ["user"],
        "ver": 4,
        # how the session's user authenticated (DESIGN §11): a password, a minute ago
        "auth_time": NOW - 60,
        "acr": "urn:tessera:acr:pwd",
        "amr": ["pwd"],
    }
    assert issued.expires_in == 300


def test_admins_also_get_the_admin_scope(keys: KeyRing) -> None:
    user = make_user(Role.USER, Role.ADMIN)
    issued = issuer_at(keys, NOW).issue(grant_for_user(user, session_of(user, "s")))
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert claims["scope"].split() == [
        "orders:read",
        "orders:write",
        "invoices:read",
        "sessions",
        "admin",
    ]
    assert claims["roles"] == ["admin", "user"]


def test_every_token_gets_its_own_jti(keys: KeyRing) -> None:
    user = make_user()
    grant = grant_for_user(user, session_of(user, "s"))
    issuer = issuer_at(keys, NOW)
    assert issuer.issue(grant).jti != issuer.issue(grant).jti


def test_not_after_caps_the_lifetime(keys: KeyRing) -> None:
    grant = AccessTokenGrant(
        subject="u",
        session_id="s",
        client_id="orders",
        audience=("billing",),
        scopes=("billing:charge",),
        roles=("user",),
        token_version=1,
        actor="orders",
        not_after=NOW + 42,
    )
    issued = issuer_at(keys, NOW).issue(grant)
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert (issued.expires_in, claims["exp"], claims["act"]) == (42, NOW + 42, {"sub": "orders"})


async def test_the_shared_verifier_accepts_our_tokens_for_each_audience(keys: KeyRing) -> None:
    user = make_user(Role.USER, Role.ADMIN)
    issued = issuer_at(keys, NOW).issue(grant_for_user(user, session_of(user, "s1")))
    for audience in ("auth", "orders", "billing"):
        verifier = TokenVerifier(issuer=ISSUER, audience=audience, keys=keys, clock=lambda: NOW)
        principal = await verifier.verify(issued.token)
        assert (principal.sub, principal.sid, principal.ver) == (str(user.id), "s1", 1)
        assert (principal.auth_time, principal.acr, principal.amr) == (
            NOW - 60,
            "urn:tessera:acr:pwd",
            ("pwd",),
        )
        assert principal.is_admin
        assert principal.has_scope("orders:write")


async def test_the_shared_verifier_rejects_our_token_once_expired(keys: KeyRing) -> None:
    user = make_user()
    issued = issuer_at(keys, NOW, ttl=60).issue(grant_for_user(user, session_of(user, "s")))
    later = NOW + 60 + 31
    verifier = TokenVerifier(issuer=ISSUER, audience="auth", keys=keys, clock=lambda: later)
    with pytest.raises(InvalidTokenError):
        await verifier.verify(issued.token)


def test_an_access_token_lifetime_over_fifteen_minutes_is_refused() -> None:
    with pytest.raises(ValidationError, match="ACCESS_TOKEN_TTL_SECONDS"):
        Settings(ACCESS_TOKEN_TTL_SECONDS=901)


def test_production_refuses_an_http_issuer_and_a_missing_key_encryption_key() -> None:
    with pytest.raises(ValidationError, match="ISSUER must be https") as raised:
        Settings(ENVIRONMENT="production", ISSUER="http://auth.example.test")
    assert "KEY_ENCRYPTION_KEY" in str(raised.value)
