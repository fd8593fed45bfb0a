"""Use cases over a user's sessions: list, revoke, logout, logout-all, password change, admin.

Each runs in one unit of work and commits once: session revocations, the token-version bump,
their revocation events and the audit rows land together (DESIGN §3, §4).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.accounts import current_user
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import UnitOfWork
from auth_service.domain.refresh_tokens import hash_refresh_token, looks_like_refresh_token
from auth_service.domain.session_revocation import (
    publish_token_version,
    revoke_session,
    revoke_user_sessions,
)
from auth_service.domain.sessions import (
    AuditEntry,
    RequestContext,
    RevocationReason,
    Session,
    SessionPolicy,
)
from auth_service.domain.users import Role, User
from auth_service.errors import (
    SessionMismatchError,
    SessionNotFoundError,
    StaleTokenError,
    UserNotFoundError,
    WrongCurrentPasswordError,
)


@dataclass(frozen=True)
class Caller:
    """The verified access token's identity, as these use cases need it."""

    subject: str
    session_id: str | None
    token_version: int


async def caller_user(
    uow: UnitOfWork, policy: SessionPolicy, caller: Caller, *, now: datetime
) -> User:
    """The caller's user, if their token is still current: `ver` and (when present) session.

    auth has the tables at hand, so it checks in the database, not only the revocation feed.
    """
    user = await current_user(uow=uow, subject=caller.subject, token_version=caller.token_version)
    if caller.session_id is not None:
        session = await uow.sessions.get(caller.session_id)
        if session is None or session.user_id != user.id or not session.is_active(policy, now):
            raise StaleTokenError("the session of this token has ended")
    return user


async def list_sessions(
    uow: UnitOfWork, policy: SessionPolicy, caller: Caller, *, now: datetime
) -> Sequence[Session]:
    user = await caller_user(uow, policy, caller, now=now)
    return [s for s in await uow.sessions.list_for_user(user.id) if s.is_active(policy, now)]


async def revoke_own_session(
    uow: UnitOfWork,
    policy: SessionPolicy,
    caller: Caller,
    session_id: str,
    *,
    now: datetime,
    context: RequestContext,
) -> None:
    """Revoke one of the caller's sessions; `SessionNotFoundError` if it is not theirs or over."""
    user = await caller_user(uow, policy, caller, now=now)
    session = await uow.sessions.get(session_id)
    if session is None or session.user_id != user.id or not session.is_active(policy, now):
        raise SessionNotFoundError("no such session")
    await revoke_session(
        uow,
        policy,
        session,
        reason=RevocationReason.REVOKED_BY_USER,
        now=now,
        context=context,
        actor_id=str(user.id),
    )
    await uow.commit()


async def log_out(
    uow: UnitOfWork,
    policy: SessionPolicy,
    *,
    bearer: Caller | None,
    refresh_token: str | None,
    now: datetime,
    context: RequestContext,
) -> bool:
    """End one session: the one a bearer token's `sid` names, or the one a refresh token names.

    The web client logs out with its refresh cookie alone (`bearer` None; the caller checked
    CSRF): that token's session ends. The mobile client logs out with its bearer token and may
    send its refresh token too: then both must name the same session, else
    `SessionMismatchError` and nothing ends. A bearer token without `sid` (a service token)
    names no session, so it never ends the one a refresh token names. A refresh token that
    names no session (unknown, pruned) confirms nothing and refutes nothing.

    Returns whether anything was revoked; an unknown or already ended session is not an error
    (logout is idempotent).
    """
    named: Session | None = None
    if refresh_token is not None:
        named = await session_of_refresh_token(uow, refresh_token)
    if bearer is not None:
        if named is not None and named.id != bearer.session_id:
            raise SessionMismatchError
        named = await uow.sessions.get(bearer.session_id) if bearer.session_id else None
    if named is None:
        return False
    revoked = await revoke_session(
        uow, policy, named, reason=RevocationReason.LOGOUT, now=now, context=context
    )
    await uow.commit()
    return revoked


async def log_out_everywhere(
    uow: UnitOfWork,
    policy: SessionPolicy,
    caller: Caller,
    *,
    now: datetime,
    context: RequestContext,
) -> None:
    user = await caller_user(uow, policy, caller, now=now)
    await revoke_user_sessions(
        uow, policy, user.id, reason=RevocationReason.LOGOUT_ALL, now=now, context=context
    )
    await uow.commit()


async def change_password(
    uow: UnitOfWork,
    policy: SessionPolicy,
    hasher: PasswordHasher,
    caller: Caller,
    *,
    current_password: str,
    new_password: str,
    now: datetime,
    context: RequestContext,
) -> None:
    """Replace the password; every other session ends and every access token goes stale.

    The caller's own session survives: its next refresh brings an access token with the new
    `ver`. A wrong current password is audited and refused with `WrongCurrentPasswordError`
    (403: the caller is authenticated, the change is what is refused); the handler rate limits
    the attempts per user before this runs.
    """
    user = await caller_user(uow, policy, caller, now=now)
    check = await hasher.verify(user.password_hash, current_password)
    if not check.matches:
        await uow.audit.record(
            AuditEntry(
                event="password.change_failed",
                occurred_at=now,
                user_id=str(user.id),
                session_id=caller.session_id,
                context=context,
            )
        )
        await uow.commit()
        raise WrongCurrentPasswordError
    await uow.users.set_password_hash(user.id, await hasher.hash(new_password))
    await revoke_user_sessions(
        uow,
        policy,
        user.id,
        reason=RevocationReason.PASSWORD_CHANGE,
        now=now,
        context=context,
        keep_session_id=caller.session_id,
    )
    await uow.audit.record(
        AuditEntry(
            event="password.changed",
            occurred_at=now,
            user_id=str(user.id),
            session_id=caller.session_id,
            context=context,
        )
    )
    await uow.commit()


async def _target_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise UserNotFoundError("no such user")
    return user


async def admin_revoke_sessions(
    uow: UnitOfWork,
    policy: SessionPolicy,
    admin: Caller,
    user_id: uuid.UUID,
    *,
    now: datetime,
    context: RequestContext,
) -> list[str]:
    await caller_user(uow, policy, admin, now=now)
    target = await _target_user(uow, user_id)
    revoked = await revoke_user_sessions(
        uow,
        policy,
        target.id,
        reason=RevocationReason.ADMIN,
        now=now,
        context=context,
        actor_id=admin.subject,
    )
    await uow.audit.record(
        AuditEntry(
            event="admin.revoke_sessions",
            occurred_at=now,
            user_id=str(target.id),
            actor_id=admin.subject,
            context=context,
            detail={"sessions": len(revoked)},
        )
    )
    await uow.commit()
    return revoked


async def admin_set_roles(
    uow: UnitOfWork,
    policy: SessionPolicy,
    admin: Caller,
    user_id: uuid.UUID,
    roles: frozenset[Role],
    *,
    now: datetime,
    context: RequestContext,
) -> User:
    """Replace a user's roles; tokens carrying the old roles stop working (new `ver`)."""
    await caller_user(uow, policy, admin, now=now)
    target = await _target_user(uow, user_id)
    before = sorted(target.roles)
    target.roles = roles | {Role.USER}
    target.token_version = await uow.users.set_roles(target.id, target.roles)
    await publish_token_version(uow, policy, target.id, target.token_version, now=now)
    await uow.audit.record(
        AuditEntry(
            event="admin.roles_changed",
            occurred_at=now,
            user_id=str(target.id),
            actor_id=admin.subject,
            context=context,
            detail={"before": before, "after": sorted(target.roles)},
        )
    )
    await uow.commit()
    return target


async def session_of_refresh_token(uow: UnitOfWork, refresh_token: str) -> Session | None:
    """The session a refresh token (of any generation) belongs to, without changing anything."""
    if not looks_like_refresh_token(refresh_token):
        return None
    record = await uow.refresh_tokens.get(hash_refresh_token(refresh_token))
    return await uow.sessions.get(record.session_id) if record is not None else None
