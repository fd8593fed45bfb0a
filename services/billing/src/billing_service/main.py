"""Builds billing: one process serving the invoices HTTP API and the gRPC BillingService.

The gRPC server lives in the FastAPI lifespan, so uvicorn's graceful shutdown (SIGTERM/SIGINT)
stops both: HTTP drains first, then gRPC reports NOT_SERVING and finishes in-flight calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from tessera import (
    JwksCache,
    KeySource,
    ServiceIdentity,
    TokenVerifier,
    install_service_defaults,
)

from billing_service.adapters.database import (
    create_engine,
    create_session_factory,
    database_is_reachable,
)
from billing_service.adapters.ledgers import Ledgers
from billing_service.api import invoices
from billing_service.api.problems import install_problem_handlers
from billing_service.config import Settings
from billing_service.grpc_api.server import BillingGrpcServer


def create_app(settings: Settings, *, keys: KeySource | None = None) -> FastAPI:
    """The billing app; `keys` replaces the JWKS cache (tests bring their own key source)."""
    key_source = keys if keys is not None else JwksCache(url=settings.JWKS_URL)
    identity = ServiceIdentity.from_settings(settings, leeway_seconds=settings.TOKEN_LEEWAY_SECONDS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.DATABASE_URL)
        ledgers = Ledgers(
            create_session_factory(engine), page_size_max=settings.INVOICE_PAGE_SIZE_MAX
        )
        verifier = TokenVerifier(
            issuer=settings.ISSUER,
            audience="billing",
            keys=key_source,
            leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
            revocation_check=identity.index.check,
        )
        if isinstance(key_source, JwksCache):
            await key_source.start()
        await identity.start(verifier)
        grpc_server = BillingGrpcServer(
            verifier=verifier, ledgers=ledgers, host=settings.grpc_host, port=settings.GRPC_PORT
        )
        await grpc_server.start()
        app.state.engine, app.state.ledgers = engine, ledgers
        app.state.token_verifier, app.state.grpc_port = verifier, grpc_server.port
        try:
            yield
        finally:
            await grpc_server.stop(settings.GRPC_SHUTDOWN_GRACE_SECONDS)
            await identity.aclose()
            if isinstance(key_source, JwksCache):
                await key_source.aclose()
            await engine.dispose()

    async def database_ready() -> bool:
        return await database_is_reachable(app.state.engine)

    async def keys_ready() -> bool:
        return key_source.ready if isinstance(key_source, JwksCache) else True

    app = FastAPI(title="Tessera billing", version="0.1.0", lifespan=lifespan)
    app.state.service_identity = identity  # its revocation index and watcher, for operators
    install_service_defaults(
        app,
        service="billing",
        readiness={
            "database": database_ready,
            "jwks": keys_ready,
            "revocations": identity.revocations_ready,
        },
        details={"revocations": identity.revocation_status},
    )
    install_problem_handlers(app)
    app.include_router(invoices.router)
    return app
