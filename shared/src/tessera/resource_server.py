"""ResourceServer: everything a resource service needs to authenticate its callers, in one call.

Like eShop's ServiceDefaults: orders and billing do not assemble the parts of DESIGN §2, §4 and
§6 by hand, they opt in::

    resource = ResourceServer(settings, audience="orders", exchange_audience="billing")
    app = create_service_app("orders", resource=resource, ...)  # FastAPI (tessera.http)
    server = grpc.aio.server(interceptors=[resource.grpc_interceptor()])  # and/or gRPC

It owns, and starts and stops together:

- the key source: a `JwksCache` of auth's JWKS (or a `KeySource` a test brings);
- the `TokenVerifier` for this service's audience, consulting the revocation index;
- the service's identity at auth (`ServiceIdentity`): the revocation index and its watcher,
  and with `exchange_audience` the `TokenExchanger` for calls made on a user's behalf;
- the readiness checks (`jwks`, `revocations`) and `/readyz` details (`revocations`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from tessera._token_endpoint import TokenExchangeError
from tessera.service_identity import ServiceIdentity
from tessera.settings import ResourceServerSettings
from tessera.token_exchange import exchanged_token_source
from tessera.tokens.jwks import JwksCache, KeySource
from tessera.tokens.verifier import TokenVerifier

if TYPE_CHECKING:
    from tessera.grpc.server import ServerAuthInterceptor

ReadinessCheck = Callable[[], Awaitable[bool]]
ReadinessDetail = Callable[[], Mapping[str, object]]
TokenSource = Callable[[], Awaitable[str | None]]


class ResourceServer:
    """The key source, verifier and service identity of one resource service."""

    def __init__(
        self,
        settings: ResourceServerSettings,
        *,
        audience: str,
        keys: KeySource | None = None,
        exchange_audience: str | None = None,
    ) -> None:
        self.audience = audience
        self.keys: KeySource = keys if keys is not None else JwksCache(url=settings.JWKS_URL)
        self.identity = ServiceIdentity.from_settings(
            settings,
            leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
            exchange_audience=exchange_audience,
        )
        self.verifier = TokenVerifier(
            issuer=settings.ISSUER,
            audience=audience,
            keys=self.keys,
            leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
            revocation_check=self.identity.index.check,
        )

    async def start(self) -> None:
        """Load the keys (retrying in the background while auth is away), then list the feed."""
        if isinstance(self.keys, JwksCache):
            await self.keys.start()
        await self.identity.start(self.verifier)

    async def stop(self) -> None:
        await self.identity.aclose()
        if isinstance(self.keys, JwksCache):
            await self.keys.aclose()

    async def keys_ready(self) -> bool:
        """Readiness: a JWKS was loaded once (a key source a test brings is always ready)."""
        return self.keys.ready if isinstance(self.keys, JwksCache) else True

    def readiness(self) -> dict[str, ReadinessCheck]:
        return {"jwks": self.keys_ready, "revocations": self.identity.revocations_ready}

    def details(self) -> dict[str, ReadinessDetail]:
        return {"revocations": self.identity.revocation_status}

    def grpc_interceptor(self) -> ServerAuthInterceptor:
        """The server interceptor that verifies every non-public gRPC call with this verifier."""
        from tessera.grpc.server import ServerAuthInterceptor

        return ServerAuthInterceptor(self.verifier)

    def exchanged_token_source(self) -> TokenSource:
        """Each outgoing call carries the caller's token exchanged at auth (DESIGN §6).

        Without service credentials every such call fails clearly (`TokenExchangeError`
        `temporarily_unavailable`), as the exchange needs them.
        """
        exchanger = self.identity.exchanger
        if exchanger is not None:
            return exchanged_token_source(exchanger)

        async def no_credentials() -> str | None:
            raise TokenExchangeError(
                "temporarily_unavailable",
                f"{self.audience} has no service credentials (SERVICE_CLIENT_SECRET_FILE)",
                None,
            )

        return no_credentials
