"""The token endpoint's service grants: client authentication, client_credentials, exchange.

Services (orders, billing) are confidential clients: they authenticate with their secret, then
get a token of their own (`client_credentials`, RFC 6749 §4.4) or exchange a user's token for
one that acts for the user at another service (RFC 8693, DESIGN §6). The rules of both are in
`domain/client_credentials.py` and `domain/token_exchange.py`; this is where they run.

Failed client authentications are rate limited per IP (`client-auth-failure-ip`; only failures
count, so a busy service is never slowed): over the limit, `RateLimitedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from auth_service.domain.access_tokens import AccessTokenIssuer
from auth_service.domain.client_credentials import ServiceTokenResult, issue_service_token
from auth_service.domain.ports import RateLimiter
from auth_service.domain.service_clients import (
    ServiceClient,
    ServiceClientRepository,
    authenticate_client,
)
from auth_service.domain.token_exchange import (
    ExchangeRequest,
    ExchangeResult,
    ExchangeRules,
    SubjectStatus,
    SubjectTokenVerifier,
    exchange_token,
)
from auth_service.errors import InvalidClientError


@dataclass
class ServiceGrants:
    """Authenticates service clients and issues their tokens."""

    clients: ServiceClientRepository
    rules: ExchangeRules
    subject_verifier: Callable[[str], SubjectTokenVerifier]
    """The verifier of subject tokens whose `aud` must name the calling client."""
    status: SubjectStatus
    issuer: AccessTokenIssuer
    limiter: RateLimiter
    clock: Callable[[], float]

    async def authenticate(
        self, credentials: Callable[[], tuple[str, str]], *, ip: str
    ) -> ServiceClient:
        """The client `credentials()` names (it raises `InvalidClientError` when they are
        missing or malformed); every failure counts against the IP's limit."""
        await self.limiter.check("client-auth-failure-ip", ip)
        try:
            client_id, secret = credentials()
            return await authenticate_client(self.clients, client_id, secret)
        except InvalidClientError:
            await self.limiter.hit("client-auth-failure-ip", ip)
            raise

    def client_credentials(
        self, client: ServiceClient, *, audience: str | None, scope: str | None
    ) -> ServiceTokenResult:
        """The calling service's own token."""
        return issue_service_token(client, audience=audience, scope=scope, issuer=self.issuer)

    async def exchange(self, client: ServiceClient, request: ExchangeRequest) -> ExchangeResult:
        """A token for `request.audience` acting for the subject token's user."""
        return await exchange_token(
            client,
            request,
            rules=self.rules,
            verifier=self.subject_verifier(client.client_id),
            status=self.status,
            issuer=self.issuer,
            now=int(self.clock()),
        )
