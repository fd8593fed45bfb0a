"""FastAPI dependencies that authenticate the caller and check scopes.

Example::

    @router.get("/v1/orders")
    async def list_orders(principal: CurrentPrincipal) -> ...

    @router.post("/v1/orders")
    async def create(principal: Annotated[Principal, Depends(require_scopes("orders:write"))]): ...

The service sets `app.state.token_verifier` (a TokenVerifier) in its lifespan. Dependencies are
`async def` on purpose: a plain `def` would run in the thread pool (slower, worse p99).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tessera.context import current_principal_var
from tessera.http.access_log import note_subject
from tessera.tokens.errors import InsufficientScopeError, InvalidTokenError, MissingTokenError
from tessera.tokens.principal import Principal
from tessera.tokens.step_up import StepUpPolicy
from tessera.tokens.verifier import TokenVerifier


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value.

    No header, or another scheme -> MissingTokenError (bare challenge); a Bearer header without
    a well-formed token -> InvalidTokenError.
    """
    if not authorization:
        raise MissingTokenError()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise MissingTokenError()
    token = token.strip(" ")
    if not token or " " in token:
        raise InvalidTokenError("The Authorization header is malformed", reason="malformed")
    return token


BEARER_SCHEME = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An access token from auth (`POST /v1/auth/login`, or a refresh).",
)
"""Declares the bearer scheme in OpenAPI (so `/docs` can send a token); parsing is ours."""


async def authenticate(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)] = None,
) -> Principal:
    """Verify the request's bearer token and remember the caller for logs and outgoing calls."""
    return await _verified_caller(request, request.app.state.token_verifier)


async def _verified_caller(request: Request, verifier: TokenVerifier) -> Principal:
    token = bearer_token(request.headers.get("authorization"))
    principal = await verifier.verify(token)
    current_principal_var.set(principal)
    note_subject(principal.sub)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
"""The verified caller; 401 without a valid bearer token."""


def require_scopes(*scopes: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency giving the caller if its token grants every one of `scopes` (else 403)."""
    needed = frozenset(scopes)

    async def principal_with_scopes(principal: CurrentPrincipal) -> Principal:
        if not needed <= principal.scopes:
            raise InsufficientScopeError(scopes)
        return principal

    return principal_with_scopes


def require_authentication(policy: StepUpPolicy) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the caller if its authentication satisfies `policy` (RFC 9470: else
    401 `insufficient_user_authentication` with `max_age` / `acr_values`)::

        @router.post("/v1/admin/...")
        async def act(admin: Annotated[Principal, Depends(require_authentication(ADMIN))]): ...
    """

    async def principal_recently_authenticated(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)] = None,
    ) -> Principal:
        # authenticates itself rather than depending on `authenticate`: one dependency level
        # less, so a policy costs a route no more than its own check (bench.step_up)
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = await _verified_caller(request, verifier)
        policy.check(principal, now=verifier.now())
        return principal

    return principal_recently_authenticated
