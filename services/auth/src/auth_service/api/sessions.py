"""`/v1/sessions` (the caller's devices), password change, and the admin session/role calls.

Thin handlers: each checks the scope (through its dependency), then runs one use case.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from tessera.http.openapi import problem_responses

from auth_service.api.deps import AdminCaller, ContextDep, CurrentCaller, RuntimeDep, SessionsCaller
from auth_service.api.schemas import (
    PasswordChangeRequest,
    RolesRequest,
    SessionListResponse,
    SessionResponse,
    UserResponse,
)

router = APIRouter(tags=["sessions"], responses=problem_responses(404))


@router.get("/v1/sessions")
async def sessions(caller: SessionsCaller, runtime: RuntimeDep) -> SessionListResponse:
    found = await runtime.sessions.list(caller)
    return SessionListResponse(
        items=[SessionResponse.of(s, current=s.id == caller.session_id) for s in found]
    )


@router.delete("/v1/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(
    session_id: str, caller: SessionsCaller, context: ContextDep, runtime: RuntimeDep
) -> Response:
    await runtime.sessions.revoke(caller, session_id, context=context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/users/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def password(
    body: PasswordChangeRequest, caller: CurrentCaller, context: ContextDep, runtime: RuntimeDep
) -> Response:
    """Change the password; every other session of the user ends.

    A wrong current password is 403; the attempts are rate limited per user (429 with
    Retry-After), so a stolen access token can neither guess the password nor burn argon2 time.
    """
    await runtime.sessions.change_password(
        caller,
        current_password=body.current_password,
        new_password=body.new_password,
        context=context,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/admin/users/{user_id}/revoke-sessions", status_code=status.HTTP_204_NO_CONTENT)
async def admin_revoke(
    user_id: uuid.UUID, admin: AdminCaller, context: ContextDep, runtime: RuntimeDep
) -> Response:
    await runtime.administration.revoke_sessions(admin, user_id, context=context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/v1/admin/users/{user_id}/roles")
async def admin_roles(
    user_id: uuid.UUID,
    body: RolesRequest,
    admin: AdminCaller,
    context: ContextDep,
    runtime: RuntimeDep,
) -> UserResponse:
    user = await runtime.administration.set_roles(
        admin, user_id, frozenset(body.roles), context=context
    )
    return UserResponse.of(user)
