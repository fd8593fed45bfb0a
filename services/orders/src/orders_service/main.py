"""Builds the orders service: HTTP API, its database, and the one gRPC channel to billing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from tessera import (
    JwksCache,
    KeySource,
    ServiceIdentity,
    TokenExchangeError,
    TokenVerifier,
    exchanged_token_source,
    install_service_defaults,
)

from orders_service.adapters.billing_client import (
    GrpcBillingGateway,
    TokenSource,
    open_billing_channel,
)
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


def create_app(
    settings: Settings,
    *,
    keys: KeySource | None = None,
    billing_token_source: TokenSource | None = None,
) -> FastAPI:
    """The orders app; tests may bring their own key source and billing token source."""
    key_source = keys if keys is not None else JwksCache(url=settings.JWKS_URL)
    identity = ServiceIdentity.from_settings(
        settings, leeway_seconds=settings.TOKEN_LEEWAY_SECONDS, exchange_audience="billing"
    )
    token_source = billing_token_source or _exchanged_tokens(identity)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.DATABASE_URL)
        channel = open_billing_channel(settings.BILLING_GRPC_TARGET, token_source)
        app.state.engine = engine
        app.state.token_verifier = TokenVerifier(
            issuer=settings.ISSUER,
            audience="orders",
            keys=key_source,
            leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
            revocation_check=identity.index.check,
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
        await identity.start(app.state.token_verifier)
        try:
            yield
        finally:
            await channel.close()
            await identity.aclose()
            if isinstance(key_source, JwksCache):
                await key_source.aclose()
            await engine.dispose()

    async def database_ready() -> bool:
        return await database_is_reachable(app.state.engine)

    async def keys_ready() -> bool:
        return key_source.ready if isinstance(key_source, JwksCache) else True

    app = FastAPI(title="Tessera orders", version="0.1.0", lifespan=lifespan)
    app.state.service_identity = identity  # its revocation index and watcher, for operators
    install_service_defaults(
        app,
        service="orders",
        readiness={
            "database": database_ready,
            "jwks": keys_ready,
            "revocations": identity.revocations_ready,
        },
        details={"revocations": identity.revocation_status},
    )
    install_problem_handlers(app)
    app.include_router(orders.router)
    return app


def _exchanged_tokens(identity: ServiceIdentity) -> TokenSource:
    """Each billing call carries the caller's token exchanged at auth (DESIGN §6)."""
    if identity.exchanger is not None:
        return exchanged_token_source(identity.exchanger)

    async def no_credentials() -> str | None:
        raise TokenExchangeError(
            "temporarily_unavailable",
            "orders has no service credentials (SERVICE_CLIENT_SECRET_FILE)",
            None,
        )

    return no_credentials
