"""`/v1/users`: registration and the caller's own profile."""

from __future__ import annotations

from fastapi import APIRouter, status
from tessera.http.openapi import problem_responses

from auth_service.api.deps import ContextDep, CurrentCaller, RuntimeDep
from auth_service.api.schemas import RegisterRequest, UserResponse

router = APIRouter(prefix="/v1/users", tags=["users"], responses=problem_responses(409))


@router.post("", status_code=status.HTTP_201_CREATED)
async def register(body: RegisterRequest, context: ContextDep, runtime: RuntimeDep) -> UserResponse:
    user = await runtime.accounts.register(
        email=body.email, password=body.password, ip=context.ip or "unknown"
    )
    return UserResponse.of(user)


@router.get("/me")
async def me(caller: CurrentCaller, runtime: RuntimeDep) -> UserResponse:
    return UserResponse.of(await runtime.accounts.profile(caller))
