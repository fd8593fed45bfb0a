"""The real billing service plus one benchmark-only twin gRPC server: same servicer, no auth.

`python -m bench.billing_twin` serves exactly what `python -m billing_service serve` serves
(billing's own `create_app`: HTTP and the gRPC server with its auth interceptor on GRPC_PORT),
and, in the same process, a second gRPC server on `BENCH_TWIN_GRPC_PORT` with no interceptor at
all: billing's own `BillingServicer` over the same use cases, whose `ListInvoices` runs for a fixed
caller (`BENCH_FIXED_USER_ID`) instead of a verified one. The twin exists only here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from billing_service.config import Settings
from billing_service.grpc_api.servicer import BillingServicer
from billing_service.main import create_app
from billing_service.use_cases import Invoices
from fastapi import FastAPI
from tessera import Principal, configure_logging, current_principal_var
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.service_cli import serve

from bench.callers import fixed_caller

EXCHANGED_SCOPES = frozenset({"invoices:read", "billing:charge", "billing:refund"})


class FixedCallerServicer(BillingServicer):
    """billing's servicer; ListInvoices runs for a fixed caller, no token involved."""

    def __init__(self, invoices: Invoices, *, caller: Principal) -> None:
        super().__init__(invoices)
        self._caller = caller

    async def ListInvoices(  # noqa: N802 - the gRPC method name
        self, request: billing_pb2.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListInvoicesResponse:
        reset = current_principal_var.set(self._caller)
        try:
            return await super().ListInvoices(request, context)
        finally:
            current_principal_var.reset(reset)


def build_app(settings: Settings, fixed_user_id: str, twin_port: int) -> FastAPI:
    """billing's app, whose lifespan also runs the twin server over billing's own use cases."""
    app = create_app(settings)
    billing_lifespan = app.router.lifespan_context
    # the user, acting through orders (as an exchanged token says)
    caller = fixed_caller(
        fixed_user_id, scopes=EXCHANGED_SCOPES, audience="billing", actor="orders"
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with billing_lifespan(app):
            twin = grpc.aio.server()
            servicer = FixedCallerServicer(app.state.invoices, caller=caller)
            billing_pb2_grpc.add_BillingServiceServicer_to_server(servicer, twin)
            twin.add_insecure_port(f"{settings.grpc_host}:{twin_port}")
            await twin.start()
            try:
                yield
            finally:
                await twin.stop(1)

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    settings = Settings()
    configure_logging("billing-twin", settings.LOG_LEVEL)
    fixed_user, twin_port = (
        os.environ["BENCH_FIXED_USER_ID"],
        int(os.environ["BENCH_TWIN_GRPC_PORT"]),
    )
    serve(build_app(settings, fixed_user, twin_port), settings)


if __name__ == "__main__":
    main()
