"""Password login: check the credentials, start a session, mint its first tokens.

A login opens a **session** (a refresh-token family, DESIGN §3) in the same unit of work as its
first refresh token and the audit row; the session id is `sid` in the access token. A failed
login is audited too (in its own commit), then refused with one message for every cause.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.accounts import authenticate
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import UnitOfWork
from auth_service.domain.refresh_tokens import generate_refresh_token, hash_refresh_token
from auth_service.domain.sessions import AuditEntry, RefreshTokenRecord, RequestContext, Session
from auth_service.domain.users import User, normalize_email
from auth_service.errors import InvalidCredentialsError


class ClientId(enum.StrEnum):
    """The first-party clients that may log in with a password."""

    WEB = "web"
    MOBILE = "mobile"


@dataclass(frozen=True)
class LoginResult:
    user: User
    session_id: str
    access_token: IssuedAccessToken
    refresh_token: str


async def log_in(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    issuer: AccessTokenIssuer,
    email: str,
    password: str,
    client_id: ClientId,
    now: datetime,
    context: RequestContext,
) -> LoginResult:
    """Authenticate and start a session; `InvalidCredentialsError` for any bad credential."""
    try:
        user = await authenticate(uow=uow, hasher=hasher, email=email, password=password)
    except InvalidCredentialsError:
        await uow.audit.record(
            AuditEntry(
                event="login.failure",
                occurred_at=now,
                client_id=client_id.value,
                context=context,
                detail={"email": normalize_email(email)[:320]},
            )
        )
        await uow.commit()
        raise
    session = Session(
        id=str(uuid.uuid4()),
        user_id=user.id,
        client_id=client_id.value,
        user_agent=context.user_agent_for_storage(),
        ip=context.ip,
        created_at=now,
        last_used_at=now,
    )
    await uow.sessions.add(session)
    refresh_token = generate_refresh_token()
    await uow.refresh_tokens.add(
        RefreshTokenRecord(
            token_hash=hash_refresh_token(refresh_token),
            session_id=session.id,
            generation=1,
            created_at=now,
        )
    )
    await uow.audit.record(
        AuditEntry(
            event="login.success",
            occurred_at=now,
            user_id=str(user.id),
            session_id=session.id,
            client_id=client_id.value,
            context=context,
        )
    )
    token = issuer.issue(grant_for_user(user, client_id=client_id.value, session_id=session.id))
    await uow.commit()
    return LoginResult(user, session.id, token, refresh_token)
