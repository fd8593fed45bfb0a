"""`/v1/auth/login`: password login for the first-party clients."""

from __future__ import annotations

from fastapi import APIRouter, Response

from auth_service.api.deps import PasswordHasherDep, TokenIssuerDep, UnitOfWorkDep
from auth_service.api.schemas import LoginRequest, TokenResponse
from auth_service.domain.login import log_in

router = APIRouter(prefix="/v1/auth", tags=["auth"])


def no_store(response: Response) -> None:
    """Token responses must never be cached (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


@router.post("/login")
async def login(
    body: LoginRequest,
    response: Response,
    uow: UnitOfWorkDep,
    hasher: PasswordHasherDep,
    issuer: TokenIssuerDep,
) -> TokenResponse:
    result = await log_in(
        uow=uow,
        hasher=hasher,
        issuer=issuer,
        email=body.email,
        password=body.password,
        client_id=body.client_id,
    )
    no_store(response)
    return TokenResponse(
        access_token=result.access_token.token, expires_in=result.access_token.expires_in
    )
