"""Build the auth FastAPI app: the shared service defaults, the routers, and CORS.

Everything the handlers use is built once in the lifespan by `bootstrap.open_runtime` and
reached as `app.state.runtime`; auth verifies its own tokens in process (no JWKS round trip).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from tessera import create_service_app

from auth_service.api import (
    login,
    mfa,
    passkeys,
    password_reset,
    revocations,
    sessions,
    step_up,
    token,
    users,
    well_known,
)
from auth_service.bootstrap import AuthRuntime, open_runtime
from auth_service.config import Settings
from auth_service.domain.passwords import PasswordHasher


def create_app(
    settings: Settings | None = None,
    *,
    password_hasher: PasswordHasher | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The app; `password_hasher` and `clock` are injectable for tests."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, password_hasher=password_hasher, clock=clock) as runtime:
            app.state.runtime = runtime
            app.state.token_verifier = runtime.token_verifier
            app.state.draining.on_start(runtime.revocation_feed.close)  # restarts in ~1 s
            yield

    async def database_ready() -> bool:
        runtime: AuthRuntime | None = getattr(app.state, "runtime", None)
        return runtime is not None and await runtime.storage.is_reachable()

    app = create_service_app(
        "auth", settings, lifespan=lifespan, readiness={"database": database_ready}
    )
    # Routes are matched in order, one by one: the token endpoint, which every refresh (the
    # hottest path, docs/performance.md) reaches, comes first.
    for module in (
        token,
        users,
        login,
        step_up,
        mfa,
        passkeys,
        password_reset,
        sessions,
        well_known,
        revocations,
    ):
        app.include_router(module.router)
    # browsers on other allow-listed origins (never "*": credentials are allowed)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_allowed_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "X-Request-ID"],
        max_age=600,
    )
    return app
