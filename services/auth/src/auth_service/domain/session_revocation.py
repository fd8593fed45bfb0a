"""Ending sessions: one function per way, each revocation with its event and audit row.

Every function here only *adds* to the caller's unit of work; the caller commits, so the
revocation, its revocation event (DESIGN §4 outbox) and its audit row commit together or not at
all. Revoking a session also forgets its sealed successors: a revoked family has no grace.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from auth_service.domain.ports import UnitOfWork
from auth_service.domain.sessions import (
    AuditEntry,
    RequestContext,
    Revocation,
    RevocationReason,
    Session,
    SessionPolicy,
)


async def revoke_session(
    uow: UnitOfWork,
    policy: SessionPolicy,
    session: Session,
    *,
    reason: RevocationReason,
    now: datetime,
    context: RequestContext,
    actor_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """Revoke one session (if still live); returns whether this call revoked it."""
    if not await uow.sessions.revoke(session.id, now=now, reason=reason.value):
        return False
    await uow.refresh_tokens.clear_sealed(session.id)
    await uow.revocations.record(
        Revocation("session", session.id, policy.event_expires_at(now), created_at=now)
    )
    await uow.audit.record(
        AuditEntry.of_session(
            "session.reuse_detected"
            if reason is RevocationReason.REUSE_DETECTED
            else "session.revoked",
            session,
            at=now,
            context=context,
            actor_id=actor_id,
            detail={"reason": reason.value, **(detail or {})},
        )
    )
    return True


async def revoke_user_sessions(
    uow: UnitOfWork,
    policy: SessionPolicy,
    user_id: uuid.UUID,
    *,
    reason: RevocationReason,
    now: datetime,
    context: RequestContext,
    actor_id: str | None = None,
    keep_session_id: str | None = None,
    bump_token_version: bool = True,
) -> list[str]:
    """Revoke every live session of a user (but `keep_session_id`); returns the ids revoked.

    With `bump_token_version` the user's `ver` goes up and a `user` event with the new
    `min_ver` is written, so every access token issued so far stops working everywhere.
    """
    revoked = []
    for session in await uow.sessions.list_for_user(user_id):
        if session.id == keep_session_id:
            continue
        if await revoke_session(
            uow, policy, session, reason=reason, now=now, context=context, actor_id=actor_id
        ):
            revoked.append(session.id)
    if bump_token_version:
        await bump_user_token_version(uow, policy, user_id, now=now)
    return revoked


async def bump_user_token_version(
    uow: UnitOfWork, policy: SessionPolicy, user_id: uuid.UUID, *, now: datetime
) -> int:
    """Raise the user's token version and publish it as a `user` revocation event."""
    version = await uow.users.bump_token_version(user_id)
    await publish_token_version(uow, policy, user_id, version, now=now)
    return version


async def publish_token_version(
    uow: UnitOfWork, policy: SessionPolicy, user_id: uuid.UUID, version: int, *, now: datetime
) -> None:
    """Tell every verifier that tokens of this user below `version` are revoked."""
    expires_at = policy.event_expires_at(now)
    await uow.revocations.record(
        Revocation("user", str(user_id), expires_at, created_at=now, min_ver=version)
    )
