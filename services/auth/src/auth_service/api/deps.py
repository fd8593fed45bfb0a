"""Dependencies as `Annotated` aliases, so handlers declare what they need by type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from tessera import CurrentPrincipal

from auth_service.bootstrap import AuthRuntime
from auth_service.config import Settings
from auth_service.domain.access_tokens import AccessTokenIssuer
from auth_service.domain.keys import KeyRing
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import UnitOfWork

__all__ = [
    "CurrentPrincipal",
    "KeyRingDep",
    "PasswordHasherDep",
    "RuntimeDep",
    "SettingsDep",
    "TokenIssuerDep",
    "UnitOfWorkDep",
]


def get_runtime(request: Request) -> AuthRuntime:
    runtime: AuthRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[AuthRuntime, Depends(get_runtime)]


async def get_unit_of_work(runtime: RuntimeDep) -> AsyncIterator[UnitOfWork]:
    async with runtime.storage.unit_of_work() as uow:
        yield uow


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_password_hasher(runtime: RuntimeDep) -> PasswordHasher:
    return runtime.password_hasher


def get_token_issuer(runtime: RuntimeDep) -> AccessTokenIssuer:
    return runtime.token_issuer


def get_key_ring(runtime: RuntimeDep) -> KeyRing:
    return runtime.keys


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]
TokenIssuerDep = Annotated[AccessTokenIssuer, Depends(get_token_issuer)]
KeyRingDep = Annotated[KeyRing, Depends(get_key_ring)]
