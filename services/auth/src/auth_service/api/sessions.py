"""`/v1/sessions` (the caller's devices), password change, and the admin session/role calls.

Thin handlers: each checks the scope, then runs one use case of `domain.session_management`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from tessera import Principal, require_scopes

from auth_service.api.client_context import request_context
from auth_service.api.deps import CurrentPrincipal, RuntimeDep
from auth_service.api.login import caller_of
from auth_service.api.schemas import (
    PasswordChangeRequest,
    RolesRequest,
    SessionListResponse,
    SessionResponse,
    UserResponse,
)
from auth_service.domain.session_management import (
    admin_revoke_sessions,
    admin_set_roles,
    change_password,
    list_sessions,
    revoke_own_session,
)

router = APIRouter(tags=["sessions"])
SessionsPrincipal = Annotated[Principal, Depends(require_scopes("sessions"))]
AdminPrincipal = Annotated[Principal, Depends(require_scopes("admin"))]


@router.get("/v1/sessions")
async def sessions(principal: SessionsPrincipal, runtime: RuntimeDep) -> SessionListResponse:
    async with runtime.storage.unit_of_work() as uow:
        found = await list_sessions(
            uow, runtime.session_policy, caller_of(principal), now=runtime.now()
        )
    return SessionListResponse(
        items=[
            SessionResponse(
                id=s.id,
                client_id=s.client_id,
                user_agent=s.user_agent,
                ip=s.ip,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                current=s.id == principal.sid,
            )
            for s in found
        ]
    )


@router.delete("/v1/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(
    session_id: str, request: Request, principal: SessionsPrincipal, runtime: RuntimeDep
) -> Response:
    async with runtime.storage.unit_of_work() as uow:
        await revoke_own_session(
            uow,
            runtime.session_policy,
            caller_of(principal),
            session_id,
            now=runtime.now(),
            context=request_context(request, runtime.settings.trusted_proxies),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def password(
    body: PasswordChangeRequest, request: Request, principal: CurrentPrincipal, runtime: RuntimeDep
) -> Response:
    """Change the password; every other session of the user ends.

    A wrong current password is 403; the attempts are rate limited per user (429 with
    Retry-After), so a stolen access token can neither guess the password nor burn argon2 time.
    """
    # Reuses the "login-account" limit (bootstrap.rate_limiter_from has no password-change
    # limit): guessing a password here gets the same budget as guessing it at login. Keyed by
    # the user id, not email+IP, so one stolen token gets one budget from however many IPs; the
    # key's own shape ("password-change", id) never shares a counter with login's (email, IP)
    # keys, so failed changes do not slow the user's logins, nor the reverse.
    limit_key = ("password-change", principal.sub)
    await runtime.rate_limiter.hit("login-account", *limit_key)
    async with runtime.storage.unit_of_work() as uow:
        await change_password(
            uow,
            runtime.session_policy,
            runtime.password_hasher,
            caller_of(principal),
            current_password=body.current_password,
            new_password=body.new_password,
            now=runtime.now(),
            context=request_context(request, runtime.settings.trusted_proxies),
        )
    # a success clears the count, as at login: only wrong passwords add up
    await runtime.rate_limiter.reset("login-account", *limit_key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/admin/users/{user_id}/revoke-sessions", status_code=status.HTTP_204_NO_CONTENT)
async def admin_revoke(
    user_id: uuid.UUID, request: Request, principal: AdminPrincipal, runtime: RuntimeDep
) -> Response:
    async with runtime.storage.unit_of_work() as uow:
        await admin_revoke_sessions(
            uow,
            runtime.session_policy,
            caller_of(principal),
            user_id,
            now=runtime.now(),
            context=request_context(request, runtime.settings.trusted_proxies),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/v1/admin/users/{user_id}/roles")
async def admin_roles(
    user_id: uuid.UUID,
    body: RolesRequest,
    request: Request,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
) -> UserResponse:
    async with runtime.storage.unit_of_work() as uow:
        user = await admin_set_roles(
            uow,
            runtime.session_policy,
            caller_of(principal),
            user_id,
            frozenset(body.roles),
            now=runtime.now(),
            context=request_context(request, runtime.settings.trusted_proxies),
        )
    return UserResponse.of(user)
