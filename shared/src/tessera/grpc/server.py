"""ServerAuthInterceptor: verify the bearer token of every non-public gRPC call.

The verification runs inside the wrapped handler, i.e. in the task that runs the servicer, so
the ContextVars it sets (`current_principal_var`, `request_id_var`) are the ones the servicer
sees (`grpc_principal()`). A missing or invalid token aborts the call with UNAUTHENTICATED;
checking scopes is the use case's job, and `answers_service_errors` turns the service's own
errors (PERMISSION_DENIED and the rest) into their status codes.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable
from typing import Any, TypeVar

import grpc

from tessera.context import current_principal_var, request_id_var
from tessera.errors import ServiceError
from tessera.grpc.metadata import metadata_value
from tessera.http.access_log import incoming_request_id
from tessera.storage import STORAGE_FAILURES
from tessera.tokens.challenges import bearer_challenge
from tessera.tokens.errors import InsufficientUserAuthenticationError, InvalidTokenError
from tessera.tokens.principal import Principal
from tessera.tokens.verifier import TokenVerifier

logger = logging.getLogger(__name__)

PUBLIC_METHOD_PREFIXES: tuple[str, ...] = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

Behavior = Callable[..., Any]
Request = TypeVar("Request")
Response = TypeVar("Response")
Method = Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]


def grpc_principal() -> Principal:
    """The verified caller of the call being served; LookupError for a public method."""
    principal = current_principal_var.get()
    if principal is None:
        raise LookupError("no authenticated principal for this call")
    return principal


def answers_service_errors(method: Method[Request, Response]) -> Method[Request, Response]:
    """Decorate a servicer method: a `ServiceError` it raises aborts with its `grpc_code`, a
    storage failure (the database away just now) with UNAVAILABLE, a step-up shortfall
    (`InsufficientUserAuthenticationError`) with UNAUTHENTICATED and the RFC 9470 challenge in
    the trailing metadata `www-authenticate`, as HTTP sends it."""

    @functools.wraps(method)
    async def translated(
        self: Any, request: Request, context: grpc.aio.ServicerContext
    ) -> Response:
        try:
            return await method(self, request, context)
        except ServiceError as error:
            await context.abort(grpc.StatusCode[error.grpc_code], str(error))
            raise  # abort() raises; this line only tells type checkers so
        except InsufficientUserAuthenticationError as shortfall:
            challenge = bearer_challenge(
                "insufficient_user_authentication", **shortfall.challenge_params
            )
            await _abort(context, shortfall.description, challenge)
            raise
        except STORAGE_FAILURES as failure:
            # the caller retries (orders treats UNAVAILABLE as "billing away"), never UNKNOWN
            logger.warning(
                "Storage unavailable; answered UNAVAILABLE", extra={"error": type(failure).__name__}
            )
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the database is unavailable just now")
            raise

    return translated


class ServerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Authenticates calls with the shared TokenVerifier; public methods pass through.

    `public_methods` holds full method names (`/pkg.Service/Method`) or prefixes ending in `/`.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        public_methods: Collection[str] = PUBLIC_METHOD_PREFIXES,
    ) -> None:
        self._verifier = verifier
        self._public = tuple(public_methods)

    def is_public(self, method: str) -> bool:
        """Whether `method` needs no token."""
        return any(method.startswith(p) if p.endswith("/") else method == p for p in self._public)

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        handler_call_details: Any,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        if self.is_public(handler_call_details.method):
            return _wrap_handler(handler, _prepare_public_call)
        return _wrap_handler(handler, self._authenticate)

    async def _authenticate(self, context: Any) -> None:
        metadata = context.invocation_metadata()
        _set_request_id(metadata)
        authorization = metadata_value(metadata, "authorization")
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip(" ")
        if scheme.lower() != "bearer" or not token:
            await _abort(context, "missing bearer token", "Bearer")
        try:
            principal = await self._verifier.verify(token)
        except InvalidTokenError as exc:
            await _abort(context, exc.description, 'Bearer error="invalid_token"')
        current_principal_var.set(principal)


def _set_request_id(metadata: Iterable[tuple[str, Any]] | None) -> None:
    value = metadata_value(metadata, "x-request-id")
    request_id_var.set(incoming_request_id(value) if value else uuid.uuid4().hex)


async def _abort(context: Any, description: str, challenge: str) -> None:
    context.set_trailing_metadata((("www-authenticate", challenge),))
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, description)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


async def _prepare_public_call(context: Any) -> None:
    _set_request_id(context.invocation_metadata())


def _wrap_handler(handler: Any, prepare: Callable[[Any], Awaitable[None]]) -> Any:
    """The same RPC handler with `await prepare(context)` run first, inside the call."""
    if handler.unary_unary:
        factory, behavior = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    elif handler.unary_stream:
        factory, behavior = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    elif handler.stream_unary:
        factory, behavior = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    else:
        factory, behavior = grpc.stream_stream_rpc_method_handler, handler.stream_stream
    return factory(
        _wrap_behavior(behavior, prepare),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _wrap_behavior(behavior: Behavior, prepare: Callable[[Any], Awaitable[None]]) -> Behavior:
    if inspect.isasyncgenfunction(behavior):

        async def streaming(request: Any, context: Any) -> AsyncIterator[Any]:
            await prepare(context)
            async for response in behavior(request, context):
                yield response

        return streaming

    async def single(request: Any, context: Any) -> Any:
        await prepare(context)
        result = behavior(request, context)
        return await result if inspect.isawaitable(result) else result

    return single
