"""Builds the orders service: its HTTP API, its database, and the one gRPC channel to billing.

Authentication (JWKS, verifier, revocation feed, token exchange) is tessera's ResourceServer;
what is orders' own is the `Orders` use cases over its database and billing, and the payment
reconciler that settles pending orders in the background.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from tessera import KeySource, ResourceServer, create_service_app
from tessera.grpc import TokenSource
from tessera.storage import Database
from tessera.tokens.step_up import StepUpPolicy

from orders_service.adapters.billing_client import GrpcBillingGateway, open_billing_channel
from orders_service.adapters.charge_tokens import ChargeTokenSealer
from orders_service.adapters.payment_reconciler import PaymentReconciler
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
    database = Database.connect(settings.DATABASE_URL, pool_size=settings.DATABASE_POOL_SIZE)
    token_source = billing_token_source or resource.exchanged_token_source()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channel = open_billing_channel(settings.BILLING_GRPC_TARGET, token_source)
        orders_use_cases = Orders(
            store=SqlOrderStore(
                database.sessions, ChargeTokenSealer(settings.service_client_secret())
            ),
            payments=GrpcBillingGateway(
                channel,
                deadline_seconds=settings.BILLING_DEADLINE_SECONDS,
                token_source=token_source,
            ),
            refund_policy=StepUpPolicy(max_age_seconds=settings.REFUND_MAX_AGE_SECONDS),
        )
        reconciler = PaymentReconciler(
            database.engine,
            orders_use_cases,
            interval_seconds=settings.PAYMENT_RECONCILE_INTERVAL_SECONDS,
        )
        app.state.orders = orders_use_cases
        reconciler.start()
        try:
            yield
        finally:
            await reconciler.aclose()
            await orders_use_cases.follow_ups.aclose()
            await channel.close()

    app = create_service_app(
        "orders", settings, resource=resource, database=database, lifespan=lifespan
    )
    app.include_router(orders.router)
    return app
