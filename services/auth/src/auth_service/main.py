"""Build the auth FastAPI app: routers, shared service defaults, and the start-up wiring."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from tessera import install_service_defaults

from auth_service.adapters.database import database_is_reachable
from auth_service.api import login, revocations, sessions, token, users, well_known
from auth_service.background import run_background
from auth_service.bootstrap import AuthRuntime, open_runtime
from auth_service.config import Settings
from auth_service.domain.passwords import PasswordHasher
from auth_service.errors import install_error_handlers
from auth_service.service_identity import open_service_identity


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
        async with (
            open_runtime(settings, password_hasher=password_hasher, clock=clock) as runtime,
            run_background(runtime, clock=clock) as background,
        ):
            app.state.runtime = runtime
            app.state.token_verifier = background.token_verifier
            app.state.revocation_feed = background.revocation_feed
            app.state.key_refresher = background.key_refresher
            app.state.maintenance = background.maintenance
            identity = await open_service_identity(
                runtime, keys=background.key_refresher, clock=clock
            )
            background.key_refresher.on_change(identity.forget_keys)
            app.state.service_identity = identity
            yield

    app = FastAPI(title="Tessera auth", version="1", lifespan=lifespan)

    async def database_ready() -> bool:
        runtime: AuthRuntime | None = getattr(app.state, "runtime", None)
        return runtime is not None and await database_is_reachable(runtime.storage.engine)

    install_service_defaults(app, service="auth", readiness={"database": database_ready})
    install_error_handlers(app)
    for module in (users, login, token, sessions, well_known, revocations):
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
