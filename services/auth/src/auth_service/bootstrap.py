"""Wiring: build the service's long-lived parts from `Settings` once, in one place.

The FastAPI lifespan and the CLI both use `open_runtime`, so the app and `create-admin` hash,
store and sign exactly alike.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from auth_service.adapters.database import create_engine, create_session_factory
from auth_service.adapters.key_encryption import KeyWrapper, load_key_encryption_key
from auth_service.adapters.signing_key_store import SigningKeyStore
from auth_service.adapters.unit_of_work import SqlUnitOfWork
from auth_service.config import Settings
from auth_service.domain.access_tokens import AccessTokenIssuer
from auth_service.domain.keys import KeyRing
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher


def password_hasher_from(settings: Settings) -> PasswordHasher:
    parameters = Argon2Parameters(
        time_cost=settings.PASSWORD_HASH_TIME_COST,
        memory_kib=settings.PASSWORD_HASH_MEMORY_KIB,
        parallelism=settings.PASSWORD_HASH_PARALLELISM,
    )
    return PasswordHasher(parameters, workers=settings.PASSWORD_HASH_WORKERS)


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
    keys: KeyRing
    token_issuer: AccessTokenIssuer


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
            wrapper = KeyWrapper(load_key_encryption_key(settings))
            keys = await SigningKeyStore(storage.session_factory, wrapper).load_key_ring()
            issuer = AccessTokenIssuer(
                issuer=settings.ISSUER,
                keys=keys,
                ttl_seconds=settings.ACCESS_TOKEN_TTL_SECONDS,
                clock=clock,
            )
            yield AuthRuntime(settings, storage, hasher, keys, issuer)
    finally:
        hasher.close()
