"""Wiring: build the service's long-lived parts from `Settings` once, in one place.

The FastAPI lifespan and the CLI both use `open_runtime`, so the app and `create-admin` hash,
store and sign exactly alike.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from auth_service.adapters.database import create_engine, create_session_factory
from auth_service.adapters.key_encryption import KeyWrapper, load_key_encryption_key
from auth_service.adapters.rate_limits import RateLimiter
from auth_service.adapters.signing_key_store import SigningKeyStore
from auth_service.adapters.unit_of_work import SqlUnitOfWork
from auth_service.config import MAX_ACCESS_TOKEN_TTL_SECONDS, MAX_TOKEN_LEEWAY_SECONDS, Settings
from auth_service.domain.access_tokens import AccessTokenIssuer
from auth_service.domain.key_lifecycle import KeySchedule
from auth_service.domain.keys import KeyRing
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher
from auth_service.domain.sessions import SessionLifetime, SessionPolicy


def password_hasher_from(settings: Settings) -> PasswordHasher:
    parameters = Argon2Parameters(
        time_cost=settings.PASSWORD_HASH_TIME_COST,
        memory_kib=settings.PASSWORD_HASH_MEMORY_KIB,
        parallelism=settings.PASSWORD_HASH_PARALLELISM,
    )
    return PasswordHasher(parameters, workers=settings.PASSWORD_HASH_WORKERS)


def session_policy_from(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        lifetimes={
            "web": SessionLifetime(
                settings.WEB_SESSION_IDLE_SECONDS, settings.WEB_SESSION_ABSOLUTE_SECONDS
            ),
            "mobile": SessionLifetime(
                settings.MOBILE_SESSION_IDLE_SECONDS, settings.MOBILE_SESSION_ABSOLUTE_SECONDS
            ),
        },
        grace_seconds=settings.REFRESH_GRACE_SECONDS,
        longest_access_token_seconds=MAX_ACCESS_TOKEN_TTL_SECONDS,
    )


def key_schedule_from(settings: Settings) -> KeySchedule:
    """The key lifecycle's periods. A retired key is kept for the longest token lifetime and
    leeway a service can be configured with, not the current ones, so lowering either (here or
    at a verifier) never drops a key that signed a token someone still accepts."""
    return KeySchedule.from_periods(
        jwks_max_age_seconds=settings.JWKS_MAX_AGE_SECONDS,
        reload_seconds=settings.SIGNING_KEY_RELOAD_SECONDS,
        max_token_lifetime_seconds=MAX_ACCESS_TOKEN_TTL_SECONDS,
        # orders and billing set their own leeway, up to the same bound
        leeway_seconds=MAX_TOKEN_LEEWAY_SECONDS,
        rotation_interval_seconds=settings.SIGNING_KEY_ROTATION_INTERVAL_SECONDS,
    )


def signing_key_store_from(
    settings: Settings,
    storage: Storage,
    clock: Callable[[], float] = time.time,
    *,
    create_dev_key: bool = True,
) -> SigningKeyStore:
    """The key store, with the KEK from settings (the CLI's `keys` commands use this too)."""
    wrapper = KeyWrapper(load_key_encryption_key(settings, create_dev_key=create_dev_key))
    return SigningKeyStore(
        storage.session_factory,
        wrapper,
        key_schedule_from(settings),
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
    )


def rate_limiter_from(settings: Settings) -> RateLimiter:
    return RateLimiter.create(
        settings.REDIS_URL,
        {
            "login-account": settings.LOGIN_RATE_LIMIT_PER_ACCOUNT,
            "login-ip": settings.LOGIN_RATE_LIMIT_PER_IP,
            "refresh-ip": settings.REFRESH_RATE_LIMIT_PER_IP,
            "register-ip": settings.REGISTER_RATE_LIMIT_PER_IP,
            "client-auth-failure-ip": settings.CLIENT_AUTH_FAILURE_RATE_LIMIT_PER_IP,
        },
    )


def csrf_key_from(key_encryption_key: bytes) -> bytes:
    """The CSRF HMAC key, derived from the KEK: every replica has it, nothing new to provision."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tessera/csrf/v1")
    return hkdf.derive(key_encryption_key)


@dataclass
class Storage:
    """The database: engine, sessions, and units of work over them."""

    engine: AsyncEngine
    session_factory: async_sessionmaker[Any]

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.session_factory)


@dataclass
class AuthRuntime:
    """Everything a request handler needs, built at start-up."""

    settings: Settings
    storage: Storage
    password_hasher: PasswordHasher
    key_store: SigningKeyStore
    keys: KeyRing
    token_issuer: AccessTokenIssuer
    session_policy: SessionPolicy
    rate_limiter: RateLimiter
    csrf_key: bytes = field(repr=False)
    clock: Callable[[], float] = time.time

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


@asynccontextmanager
async def open_storage(settings: Settings) -> AsyncIterator[Storage]:
    engine = create_engine(settings.DATABASE_URL)
    try:
        yield Storage(engine, create_session_factory(engine))
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    password_hasher: PasswordHasher | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[AuthRuntime]:
    """Connect storage, load (or create) the signing keys, and build the issuer."""
    hasher = password_hasher or password_hasher_from(settings)
    try:
        await hasher.warm_up()
        async with open_storage(settings) as storage:
            key_encryption_key = load_key_encryption_key(settings)
            key_store = signing_key_store_from(settings, storage, clock)
            keys = await key_store.load_key_ring()
            issuer = AccessTokenIssuer(
                issuer=settings.ISSUER,
                keys=keys,
                ttl_seconds=settings.ACCESS_TOKEN_TTL_SECONDS,
                clock=clock,
            )
            yield AuthRuntime(
                settings,
                storage,
                hasher,
                key_store,
                keys,
                issuer,
                session_policy=session_policy_from(settings),
                rate_limiter=rate_limiter_from(settings),
                csrf_key=csrf_key_from(key_encryption_key),
                clock=clock,
            )
    finally:
        hasher.close()
