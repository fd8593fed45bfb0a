"""`/v1/users`: registration (202, whether the address was new or taken), proving the address,
and the caller's own profile."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from tessera.http.openapi import problem_responses

from auth_service.api.deps import ContextDep, CurrentCaller, RuntimeDep
from auth_service.api.schemas import (
    EmailRequest,
    EmailTokenRequest,
    RegisteredResponse,
    RegisterRequest,
    UserResponse,
)

router = APIRouter(prefix="/v1/users", tags=["users"], responses=problem_responses())


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def register(
    body: RegisterRequest, context: ContextDep, runtime: RuntimeDep
) -> RegisteredResponse:
    """A new address gets an account and a verification mail; a taken one, a warning mail to
    its owner. The answer, and its timing, are the same."""
    await runtime.accounts.register(
        email=body.email, password=body.password, ip=context.ip or "unknown"
    )
    return RegisteredResponse(email=body.email)


@router.post("/verify-email", status_code=status.HTTP_204_NO_CONTENT)
async def verify_email(
    body: EmailTokenRequest, context: ContextDep, runtime: RuntimeDep
) -> Response:
    """Use the token of the verification mail (once, within 24 h); 400 for any other."""
    await runtime.email_verification.verify(body.token, context=context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/verify-email/resend", status_code=status.HTTP_202_ACCEPTED, response_class=Response)
async def resend_verification(
    body: EmailRequest, context: ContextDep, runtime: RuntimeDep
) -> Response:
    """Another verification mail, if the address has an unverified account (limited per
    address); 202 whatever the address."""
    await runtime.email_verification.request_resend(body.email, ip=context.ip or "unknown")
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.get("/me")
async def me(caller: CurrentCaller, runtime: RuntimeDep) -> UserResponse:
    return UserResponse.of(await runtime.accounts.profile(caller))
