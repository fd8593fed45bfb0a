"""This service's own access token, from auth's client_credentials grant (DESIGN §6).

Services call auth (the revocation feed, ...) as themselves. The token is cached and replaced
shortly before it expires (min(60 s, 10 % of its lifetime) early), concurrent callers share one
request (single flight), and a token that is still valid keeps being used while auth is briefly
unreachable.

Example::

    feed_token = ServiceTokenProvider(
        token_url="http://127.0.0.1:8001/v1/auth/token",
        client_id="orders", client_secret=settings.CLIENT_SECRET,
        audience="auth", scope="revocations:read",
    )
    headers = {"Authorization": f"Bearer {await feed_token.token()}"}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from tessera._token_endpoint import (
    ServiceAuthError,
    basic_client_auth,
    refresh_margin,
    request_token,
)
from tessera.keep_alive import client_limits

logger = logging.getLogger(__name__)

CLIENT_CREDENTIALS = "client_credentials"


class ServiceTokenSource(Protocol):
    """Anything that hands out this service's bearer token (ServiceTokenProvider in production)."""

    async def token(self) -> str: ...

    def invalidate(self) -> None: ...


class ServiceTokenProvider:
    """Obtains, caches and renews a client_credentials access token for one audience and scope.

    `token()` raises ServiceAuthError (with the RFC 6749 `error`, e.g. `invalid_client`) when no
    valid token can be had. `invalidate()` drops the cached token, e.g. after a 401 from the
    resource it was sent to.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str,
        scope: str,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout_seconds: float = 5,
    ) -> None:
        self._token_url = token_url
        self._authorization = basic_client_auth(client_id, client_secret)
        self._form = {"grant_type": CLIENT_CREDENTIALS, "audience": audience, "scope": scope}
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=timeout_seconds, limits=client_limits()
        )
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        self._in_flight: asyncio.Task[str] | None = None
        self.client_id = client_id
        self.requests = 0
        """Token requests sent to auth (for tests and metrics)."""

    def __repr__(self) -> str:
        audience = self._form["audience"]
        return f"ServiceTokenProvider(client_id={self.client_id!r}, audience={audience!r})"

    async def token(self) -> str:
        """A valid access token: the cached one, or a fresh one shared by concurrent callers."""
        now = self._clock()
        if self._token is not None and now < self._refresh_at:
            return self._token
        if self._in_flight is None:
            self._in_flight = asyncio.create_task(self._fetch(), name="service-token")
            self._in_flight.add_done_callback(self._clear_in_flight)
        try:
            return await asyncio.shield(self._in_flight)
        except ServiceAuthError as exc:
            if self._token is not None and self._clock() < self._expires_at:
                logger.warning(
                    "Service token renewal failed; using the cached token until it expires",
                    extra={"client_id": self.client_id, "error": exc.error},
                )
                return self._token
            raise

    def invalidate(self) -> None:
        """Forget the cached token so the next `token()` asks auth again."""
        self._token = None
        self._refresh_at = self._expires_at = 0.0

    async def aclose(self) -> None:
        """Cancel a request in flight and close the HTTP client if it is ours."""
        if self._in_flight is not None:
            self._in_flight.cancel()
            with contextlib.suppress(asyncio.CancelledError, ServiceAuthError):
                await self._in_flight
        if self._owns_client:
            await self._client.aclose()

    def _clear_in_flight(self, task: asyncio.Task[str]) -> None:
        if self._in_flight is task:
            self._in_flight = None
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is never reported as lost

    async def _fetch(self) -> str:
        self.requests += 1
        started = self._clock()
        issued = await request_token(
            self._client,
            token_url=self._token_url,
            authorization=self._authorization,
            form=self._form,
            error_class=ServiceAuthError,
        )
        lifetime = issued.expires_in or 0.0
        self._token = issued.access_token
        self._expires_at = started + lifetime
        self._refresh_at = self._expires_at - refresh_margin(lifetime)
        return issued.access_token
