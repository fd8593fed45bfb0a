"""`POST /v1/auth/step-up`: authenticate again in this session, for an operation that demands a
recent authentication (RFC 9470's `insufficient_user_authentication` challenge).

Bearer token of the session; a web session also sends its CSRF header (the token is in script
memory, so this is belt and braces against a page that got hold of one). The answer is a fresh
access token whose `auth_time` is now; the refresh token (cookie or body) stays as it is.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from tessera import Principal
from tessera.http.deps import CurrentPrincipal
from tessera.http.openapi import problem_responses

from auth_service.api.browser_security import check_csrf
from auth_service.api.deps import ContextDep, RuntimeDep, caller_of
from auth_service.api.schemas import StepUpRequest, TokenResponse
from auth_service.domain.sessions import ClientId

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=problem_responses())


@router.post("/step-up")
async def step_up(
    body: StepUpRequest,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    context: ContextDep,
    runtime: RuntimeDep,
) -> TokenResponse:
    """A fresh access token for this session after the password (no second factor), a code
    (TOTP or recovery code, with one) or a passkey's answer; 403 if they are wrong or of the
    wrong kind."""
    if _is_web(principal):
        check_csrf(request, runtime.settings, runtime.csrf_key, principal.sid)
    token = await runtime.step_ups.step_up(caller_of(principal), body.proof(), context=context)
    response.headers["Cache-Control"] = "no-store"
    return TokenResponse(access_token=token.token, expires_in=token.expires_in)


def _is_web(principal: Principal) -> bool:
    return principal.client_id == ClientId.WEB.value
