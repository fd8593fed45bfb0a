"""Builds billing: one process serving the invoices HTTP API and the gRPC BillingService.

Authentication (JWKS, verifier, revocation feed) is tessera's ResourceServer, used by both:
the HTTP routes through `CurrentPrincipal`, gRPC through its server interceptor. The gRPC
server lives in the lifespan, so uvicorn's graceful shutdown (SIGTERM/SIGINT) stops both:
HTTP drains first, then gRPC reports NOT_SERVING and finishes in-flight calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from tessera import KeySource, ResourceServer, create_service_app
from tessera.storage import Database
from tessera.tokens.step_up import StepUpPolicy

from billing_service.adapters.repository import SqlInvoiceStorage
from billing_service.api import invoices
from billing_service.config import Settings
from billing_service.grpc_api.server import BillingGrpcServer
from billing_service.use_cases import Invoices


def create_app(settings: Settings, *, keys: KeySource | None = None) -> FastAPI:
    """The billing app; `keys` replaces the JWKS cache (tests bring their own key source)."""
    resource = ResourceServer(settings, audience="billing", keys=keys)
    database = Database.connect(settings.DATABASE_URL, pool_size=settings.DATABASE_POOL_SIZE)
    use_cases = Invoices(
        SqlInvoiceStorage(database.sessions),
        page_size_max=settings.INVOICE_PAGE_SIZE_MAX,
        refund_policy=StepUpPolicy(max_age_seconds=settings.REFUND_MAX_AGE_SECONDS),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        grpc_server = BillingGrpcServer(
            interceptor=resource.grpc_interceptor(),
            invoices=use_cases,
            host=settings.grpc_host,
            port=settings.GRPC_PORT,
        )
        await grpc_server.start()
        app.state.grpc_port = grpc_server.port
        try:
            yield
        finally:
            await grpc_server.stop(settings.GRPC_SHUTDOWN_GRACE_SECONDS)

    app = create_service_app(
        "billing", settings, resource=resource, database=database, lifespan=lifespan
    )
    app.state.invoices = use_cases
    app.include_router(invoices.router)
    return app
