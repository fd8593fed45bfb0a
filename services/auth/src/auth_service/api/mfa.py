"""`/v1/users/me/mfa`: the caller's second factor (TOTP and recovery codes).

Starting an enrolment needs a sign-in (or step-up) within 5 minutes, and new recovery codes or
turning an active factor off need one at acr mfa: otherwise 401 with the RFC 9470 challenge,
which the clients answer with `POST /v1/auth/step-up` and a retry. A wrong confirmation code is
403 (the bearer token is fine; a refresh would not help).
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from tessera.http.openapi import problem_responses

from auth_service.api.deps import ContextDep, CurrentCaller, RuntimeDep
from auth_service.api.schemas import (
    MfaStatusResponse,
    RecoveryCodesResponse,
    TotpConfirmedResponse,
    TotpConfirmRequest,
    TotpEnrolmentResponse,
)
from auth_service.domain.mfa import TotpStatus

router = APIRouter(
    prefix="/v1/users/me/mfa", tags=["mfa"], responses=problem_responses(403, 404, 409)
)
NO_STORE = {"Cache-Control": "no-store"}


@router.get("")
async def mfa_status(caller: CurrentCaller, runtime: RuntimeDep) -> MfaStatusResponse:
    found = await runtime.mfa.status(caller)
    totp = (found.totp or TotpStatus.OFF).value
    return MfaStatusResponse(totp=totp, recovery_codes_left=found.recovery_codes_left)


@router.post("/totp")
async def begin_totp(
    caller: CurrentCaller, context: ContextDep, runtime: RuntimeDep, response: Response
) -> TotpEnrolmentResponse:
    """A new pending TOTP secret (a pending one is replaced); 409 while one is on."""
    enrolment = await runtime.mfa.begin_totp(caller, context=context)
    response.headers.update(NO_STORE)
    return TotpEnrolmentResponse(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
    )


@router.post("/totp/confirm")
async def confirm_totp(
    body: TotpConfirmRequest,
    caller: CurrentCaller,
    context: ContextDep,
    runtime: RuntimeDep,
    response: Response,
) -> TotpConfirmedResponse:
    """Turn the pending factor on with a code from it: ten recovery codes (shown once) and an
    access token of this session, now at acr mfa."""
    confirmed = await runtime.mfa.confirm_totp(caller, code=body.code, context=context)
    response.headers.update(NO_STORE)
    return TotpConfirmedResponse(
        recovery_codes=confirmed.recovery_codes,
        access_token=confirmed.access_token.token,
        expires_in=confirmed.access_token.expires_in,
    )


@router.delete("/totp", status_code=status.HTTP_204_NO_CONTENT)
async def disable_totp(caller: CurrentCaller, context: ContextDep, runtime: RuntimeDep) -> Response:
    """Turn the factor off (its recovery codes go with it); 404 if there is none."""
    await runtime.mfa.disable_totp(caller, context=context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/recovery-codes")
async def regenerate_recovery_codes(
    caller: CurrentCaller, context: ContextDep, runtime: RuntimeDep, response: Response
) -> RecoveryCodesResponse:
    """Ten new recovery codes; every old one stops working."""
    codes = await runtime.mfa.regenerate_recovery_codes(caller, context=context)
    response.headers.update(NO_STORE)
    return RecoveryCodesResponse(recovery_codes=codes)
