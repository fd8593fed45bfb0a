"""Builds billing's grpc.aio server: auth interceptor, BillingService, health, reflection."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.grpc import ServerAuthInterceptor

from billing_service.grpc_api.servicer import BillingServicer
from billing_service.use_cases import Invoices

BILLING_SERVICE_NAME = billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name
MAX_METADATA_BYTES = 32 * 1024


class BillingGrpcServer:
    """The running gRPC side of billing; `port` is the bound port (useful when asked for 0)."""

    def __init__(
        self, *, interceptor: ServerAuthInterceptor, invoices: Invoices, host: str, port: int
    ) -> None:
        self._server = grpc.aio.server(
            interceptors=[interceptor],
            # Above gRPC's 8 KiB default, so an oversized token reaches the verifier and gets its
            # UNAUTHENTICATED (the verifier refuses tokens over 8 KiB) rather than transport noise.
            options=[("grpc.max_metadata_size", MAX_METADATA_BYTES)],
        )
        billing_pb2_grpc.add_BillingServiceServicer_to_server(
            BillingServicer(invoices), self._server
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (BILLING_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server
        )
        self.port: int = self._server.add_insecure_port(f"{host}:{port}")

    async def start(self) -> None:
        await self._server.start()
        for service in ("", BILLING_SERVICE_NAME):
            await self._health.set(service, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_seconds: float) -> None:
        """Report NOT_SERVING, then let in-flight calls finish for up to `grace_seconds`."""
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace_seconds)
