"""Dependencies as `Annotated` aliases, so handlers declare what they need by type.

@router.get("/v1/sessions")
async def sessions(caller: SessionsCaller, runtime: RuntimeDep) -> SessionListResponse:
    found = await runtime.sessions.list(caller)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from tessera import CurrentPrincipal, Principal, require_scopes
from tessera.http.deps import BEARER_SCHEME
from tessera.tokens.step_up import ACR_MFA, StepUpPolicy

from auth_service.api.request_context import request_context
from auth_service.bootstrap import AuthRuntime
from auth_service.config import Settings
from auth_service.domain.keys import KeyRing
from auth_service.domain.sessions import Caller, RequestContext


def get_runtime(request: Request) -> AuthRuntime:
    runtime: AuthRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[AuthRuntime, Depends(get_runtime)]
"""The running service: its settings, use cases and keys (`bootstrap.AuthRuntime`)."""


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_key_ring(runtime: RuntimeDep) -> KeyRing:
    return runtime.keys


def get_request_context(request: Request) -> RequestContext:
    return request_context(request)


def caller_of(principal: Principal) -> Caller:
    """What the use cases need of a verified access token."""
    return Caller(subject=principal.sub, session_id=principal.sid, token_version=principal.ver)


async def get_caller(principal: CurrentPrincipal) -> Caller:
    return caller_of(principal)


async def get_optional_authorization(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)] = None,
) -> str | None:
    # the raw header, parsed by the route; the scheme only declares it, so /docs sends it
    return request.headers.get("authorization")


ADMIN_POLICY = StepUpPolicy(max_age_seconds=900, min_acr=ACR_MFA)
"""Admin operations (DESIGN §11): a second factor, used within the last 15 minutes."""


async def get_admin_principal(
    request: Request, principal: Annotated[Principal, Depends(require_scopes("admin"))]
) -> Principal:
    """The caller if its token has the `admin` scope (else 403: no step-up would help) and
    states an authentication that satisfies `ADMIN_POLICY` (else 401, the RFC 9470 challenge)."""
    ADMIN_POLICY.check(principal, now=request.app.state.token_verifier.now())
    return principal


SessionsPrincipal = Annotated[Principal, Depends(require_scopes("sessions"))]
AdminPrincipal = Annotated[Principal, Depends(get_admin_principal)]


async def get_sessions_caller(principal: SessionsPrincipal) -> Caller:
    return caller_of(principal)


async def get_admin_caller(principal: AdminPrincipal) -> Caller:
    return caller_of(principal)


SettingsDep = Annotated[Settings, Depends(get_settings)]
KeyRingDep = Annotated[KeyRing, Depends(get_key_ring)]
ContextDep = Annotated[RequestContext, Depends(get_request_context)]
"""Where the request came from (client IP through trusted proxies only, user agent)."""
OptionalAuthorization = Annotated[str | None, Depends(get_optional_authorization)]
"""The Authorization header as sent, where a bearer token is optional (logout, passkey
options); in OpenAPI the bearer scheme, not a header parameter, which `/docs` would not fill."""
CurrentCaller = Annotated[Caller, Depends(get_caller)]
"""The verified caller; 401 without a valid bearer token."""
SessionsCaller = Annotated[Caller, Depends(get_sessions_caller)]
"""A verified caller with the `sessions` scope (401/403 otherwise)."""
AdminCaller = Annotated[Caller, Depends(get_admin_caller)]
"""A verified caller with the `admin` scope (401/403 otherwise)."""
