"""Builds the orders service: HTTP API, its database, and the one gRPC channel to billing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from tessera import JwksCache, KeySource, TokenVerifier, install_service_defaults

from orders_service.adapters.billing_client import GrpcBillingGateway, open_billing_channel
from orders_service.adapters.database import (
    create_engine,
    create_session_factory,
    database_is_reachable,
)
from orders_service.adapters.repository import SqlOrderStore
from orders_service.api import orders
from orders_service.api.problems import install_problem_handlers
from orders_service.config import Settings
from orders_service.domain.desk import OrderDesk


def create_app(settings: Settings, *, keys: KeySource | None = None) -> FastAPI:
    """The orders app; `keys` replaces the JWKS cache (tests bring their own key source)."""
    key_source = keys if keys is not None else JwksCache(url=settings.JWKS_URL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.DATABASE_URL)
        channel = open_billing_channel(settings.BILLING_GRPC_TARGET)
        app.state.engine = engine
        app.state.token_verifier = TokenVerifier(
            issuer=settings.ISSUER,
            audience="orders",
            keys=key_source,
            leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
        )
        app.state.order_desk = OrderDesk(
            store=SqlOrderStore(create_session_factory(engine)),
            payments=GrpcBillingGateway(
                channel, deadline_seconds=settings.BILLING_DEADLINE_SECONDS
            ),
            clock=lambda: datetime.now(UTC),
            new_id=lambda: str(uuid.uuid4()),
        )
        if isinstance(key_source, JwksCache):
            await key_source.start()
        try:
            yield
        finally:
            await channel.close()
            if isinstance(key_source, JwksCache):
                await key_source.aclose()
            await engine.dispose()

    async def database_ready() -> bool:
        return await database_is_reachable(app.state.engine)

    async def keys_ready() -> bool:
        return key_source.ready if isinstance(key_source, JwksCache) else True

    app = FastAPI(title="Tessera orders", version="0.1.0", lifespan=lifespan)
    install_service_defaults(
        app, service="orders", readiness={"database": database_ready, "jwks": keys_ready}
    )
    install_problem_handlers(app)
    app.include_router(orders.router)
    return app
