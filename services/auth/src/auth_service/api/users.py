"""`/v1/users`: registration and the caller's own profile."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from auth_service.api.client_context import client_ip
from auth_service.api.deps import CurrentPrincipal, PasswordHasherDep, RuntimeDep, UnitOfWorkDep
from auth_service.api.schemas import RegisterRequest, UserResponse
from auth_service.domain.accounts import current_user, register_user

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def register(
    body: RegisterRequest,
    request: Request,
    uow: UnitOfWorkDep,
    hasher: PasswordHasherDep,
    runtime: RuntimeDep,
) -> UserResponse:
    ip = client_ip(request, runtime.settings.trusted_proxies) or "unknown"
    await runtime.rate_limiter.hit("register-ip", ip)
    user = await register_user(uow=uow, hasher=hasher, email=body.email, password=body.password)
    return UserResponse.of(user)


@router.get("/me")
async def me(principal: CurrentPrincipal, uow: UnitOfWorkDep) -> UserResponse:
    user = await current_user(uow=uow, subject=principal.sub, token_version=principal.ver)
    return UserResponse.of(user)
