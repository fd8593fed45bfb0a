"""RFC 8693 token exchange: a user's token in, a billing-only token acting through us out.

When orders calls billing it does not forward the user's token (valid at orders too, and silent
about who is calling); it exchanges it at auth for a short token with `aud` billing and
`act.sub` orders (DESIGN §6). Exchanged tokens are cached per subject token until shortly before
they expire, keyed by the SHA-256 digest of the subject token (never the token itself), in a
bounded LRU; concurrent exchanges of one subject token share a single request.

Example::

    exchanger = TokenExchanger(token_url=..., client_id="orders", client_secret=...)
    channel = grpc.aio.insecure_channel(
        target, interceptors=[ClientAuthInterceptor(exchanged_token_source(exchanger))]
    )
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import httpx

from tessera._token_endpoint import (
    TokenExchangeError,
    basic_client_auth,
    refresh_margin,
    request_token,
)
from tessera.context import current_principal_var
from tessera.keep_alive import client_limits

# RFC 8693 identifiers, not secrets.
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105


class TokenExchanger:
    """Exchanges subject (user) tokens for tokens meant for `audience`, with a bounded cache.

    `exchange()` raises TokenExchangeError; `subject_token_rejected` (RFC `invalid_grant`) means
    the user's token was refused (answer 401), anything else is a 503-class failure.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str = "billing",
        scope: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
        timeout_seconds: float = 5,
    ) -> None:
        self._token_url = token_url
        self._authorization = basic_client_auth(client_id, client_secret)
        self._audience = audience
        self._scope = scope
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=timeout_seconds, limits=client_limits()
        )
        self._clock = clock
        self._max_entries = max_entries
        # sha256(subject token) -> (exchanged token, refresh at); order = least recently used first.
        self._cache: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._in_flight: dict[bytes, asyncio.Task[str]] = {}
        self.client_id = client_id
        self.requests = 0
        """Exchange requests sent to auth (for tests and metrics)."""

    def __repr__(self) -> str:
        return f"TokenExchanger(client_id={self.client_id!r}, audience={self._audience!r})"

    def __len__(self) -> int:
        """How many exchanged tokens are cached."""
        return len(self._cache)

    async def exchange(self, subject_token: str) -> str:
        """A token for the audience acting for the subject token's user, cached or fresh."""
        key = hashlib.sha256(subject_token.encode("utf-8")).digest()
        cached = self._cache.get(key)
        if cached is not None:
            if self._clock() < cached[1]:
                self._cache.move_to_end(key)
                return cached[0]
            del self._cache[key]
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(self._exchange(key, subject_token), name="token-exchange")
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._clear_in_flight(key, done))
        return await asyncio.shield(task)

    def forget(self, subject_token: str) -> None:
        """Drop the cached exchange of one subject token (e.g. after billing answered 401)."""
        self._cache.pop(hashlib.sha256(subject_token.encode("utf-8")).digest(), None)

    def clear(self) -> None:
        """Drop every cached exchanged token."""
        self._cache.clear()

    async def aclose(self) -> None:
        """Cancel exchanges in flight and close the HTTP client if it is ours."""
        for task in list(self._in_flight.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TokenExchangeError):
                await task
        if self._owns_client:
            await self._client.aclose()

    def _clear_in_flight(self, key: bytes, task: asyncio.Task[str]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is never reported as lost

    async def _exchange(self, key: bytes, subject_token: str) -> str:
        self.requests += 1
        started = self._clock()
        form = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": subject_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "audience": self._audience,
        }
        if self._scope is not None:
            form["scope"] = self._scope
        issued = await request_token(
            self._client,
            token_url=self._token_url,
            authorization=self._authorization,
            form=form,
            error_class=TokenExchangeError,
        )
        if issued.issued_token_type not in (None, ACCESS_TOKEN_TYPE):
            raise TokenExchangeError(
                "temporarily_unavailable", "auth issued an unexpected token type", 200
            )
        lifetime = issued.expires_in or 0.0
        refresh_at = started + lifetime - refresh_margin(lifetime)
        if refresh_at > self._clock():
            self._remember(key, issued.access_token, refresh_at)
        return issued.access_token

    def _remember(self, key: bytes, token: str, refresh_at: float) -> None:
        if self._max_entries <= 0:
            return
        self._cache[key] = (token, refresh_at)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)


def exchanged_token_source(exchanger: TokenExchanger) -> Callable[[], Awaitable[str | None]]:
    """A ClientAuthInterceptor token source: the current caller's token, exchanged.

    Returns None when no principal is set (the call then goes out without `authorization`);
    raises TokenExchangeError when auth refuses or is unreachable.
    """

    async def exchanged_current_token() -> str | None:
        principal = current_principal_var.get()
        if principal is None:
            return None
        return await exchanger.exchange(principal.token)

    return exchanged_current_token
