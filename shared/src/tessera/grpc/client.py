"""ClientAuthInterceptor: add `authorization` and `x-request-id` to outgoing unary calls.

Each call's token comes from the interceptor's `TokenSource` (the current caller's token,
exchanged), or, inside `calling_with(token)`, from that token: a background job acting for a
user with a token that user's request obtained earlier (orders' payment reconciler).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

import grpc

from tessera.context import request_id_var

TokenSource = Callable[[], Awaitable[str | None]]
"""Gives each call's token: e.g. `tessera.exchanged_token_source(exchanger)`, never the
caller's own token forwarded (ADR 0006)."""

_call_token_var: ContextVar[str | None] = ContextVar("tessera_call_token", default=None)


@contextlib.contextmanager
def calling_with(token: str) -> Iterator[None]:
    """Calls made in this block carry `token` instead of what the token source gives."""
    reset = _call_token_var.set(token)
    try:
        yield
    finally:
        _call_token_var.reset(reset)


class ClientAuthInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Puts `authorization: Bearer <token>` (from `calling_with`, else when `token_source`
    gives one) and the current request id in the metadata of every unary-unary call,
    replacing any the caller set.
    """

    def __init__(self, token_source: TokenSource) -> None:
        self._token_source = token_source

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Awaitable[Any]],
        client_call_details: Any,
        request: Any,
    ) -> Any:
        token = _call_token_var.get() or await self._token_source()
        request_id = request_id_var.get()
        replaced = {"authorization"} if token else set()
        if request_id:
            replaced.add("x-request-id")
        metadata = grpc.aio.Metadata(
            *((k, v) for k, v in (client_call_details.metadata or ()) if k not in replaced)
        )
        if token:
            metadata.add("authorization", f"Bearer {token}")
        if request_id:
            metadata.add("x-request-id", request_id)
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout,
            metadata=metadata,
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)
