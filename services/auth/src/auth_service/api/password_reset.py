"""`/v1/auth/password-reset`: a reset link by mail, then a new password (DESIGN §11).

Asking answers 202 whatever the address, after the same work; confirming is 204, or 400 for a
token that cannot be used (one text), or 422 for a password the policy refuses (nothing
changes then).
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from tessera.http.openapi import problem_responses

from auth_service.api.deps import ContextDep, RuntimeDep
from auth_service.api.schemas import EmailRequest, PasswordResetConfirmRequest

router = APIRouter(prefix="/v1/auth/password-reset", tags=["auth"], responses=problem_responses())


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_class=Response)
async def request_password_reset(
    body: EmailRequest, context: ContextDep, runtime: RuntimeDep
) -> Response:
    await runtime.password_resets.request(body.email, ip=context.ip or "unknown")
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post("/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_password_reset(
    body: PasswordResetConfirmRequest, context: ContextDep, runtime: RuntimeDep
) -> Response:
    """The new password; every session of the user ends, and their access tokens with them."""
    await runtime.password_resets.confirm(body.token, body.new_password, context=context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
