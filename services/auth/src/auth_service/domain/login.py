"""Password login: check the credentials, then mint the access token for a new sign-in.

The refresh-token issue extends this: login then also opens a session (a refresh-token family)
in the same unit of work, and the session's id becomes `sid` instead of a fresh uuid.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.accounts import authenticate
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import UnitOfWork
from auth_service.domain.users import User


class ClientId(enum.StrEnum):
    """The first-party clients that may log in with a password."""

    WEB = "web"
    MOBILE = "mobile"


@dataclass(frozen=True)
class LoginResult:
    user: User
    session_id: str
    access_token: IssuedAccessToken


async def log_in(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    issuer: AccessTokenIssuer,
    email: str,
    password: str,
    client_id: ClientId,
) -> LoginResult:
    """Authenticate and issue an access token; `InvalidCredentialsError` for any bad credential."""
    user = await authenticate(uow=uow, hasher=hasher, email=email, password=password)
    session_id = str(uuid.uuid4())
    token = issuer.issue(grant_for_user(user, client_id=client_id.value, session_id=session_id))
    return LoginResult(user=user, session_id=session_id, access_token=token)
