"""Builds the orders service: its HTTP API, its database, and the one gRPC channel to billing.

Authentication (JWKS, verifier, revocation feed, token exchange) is tessera's ResourceServer;
what is orders' own is the `Orders` use cases over its database and billing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from tessera import KeySource, ResourceServer, create_service_app
from tessera.grpc import TokenSource
from tessera.storage import Database

from orders_service.adapters.billing_client import GrpcBillingGateway, open_billing_channel
from orders_service.adapters.repository import SqlOrderStore
from orders_service.api import orders
from orders_service.config import Settings
from orders_service.use_cases import Orders


def create_app(
    settings: Settings,
    *,
    keys: KeySource | None = None,
    billing_token_source: TokenSource | None = None,
) -> FastAPI:
    """The orders app; tests may bring their own key source and billing token source."""
    resource = ResourceServer(settings, audience="orders", keys=keys, exchange_audience="billing")
    database = Database.connect(settings.DATABASE_URL)
    token_source = billing_token_source or resource.exchanged_token_source()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channel = open_billing_channel(settings.BILLING_GRPC_TARGET, token_source)
        app.state.orders = Orders(
            store=SqlOrderStore(database.sessions),
            payments=GrpcBillingGateway(
                channel, deadline_seconds=settings.BILLING_DEADLINE_SECONDS
            ),
        )
        try:
            yield
        finally:
            await channel.close()

    app = create_service_app(
        "orders", settings, resource=resource, database=database, lifespan=lifespan
    )
    app.include_router(orders.router)
    return app
