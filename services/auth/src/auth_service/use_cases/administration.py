"""An admin's use cases: end all of a user's sessions, change a user's roles.

Both are audited with the admin as the actor, and both make the user's access tokens stale
everywhere through a `user` revocation event (a new token version), in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auth_service.domain.ports import UnitOfWork, UnitsOfWork
from auth_service.domain.session_revocation import publish_token_version, revoke_user_sessions
from auth_service.domain.sessions import (
    AuditEntry,
    Caller,
    RequestContext,
    RevocationReason,
    SessionPolicy,
)
from auth_service.domain.users import Role, User
from auth_service.errors import UserNotFoundError
from auth_service.use_cases.accounts import active_user


async def _target_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise UserNotFoundError("no such user")
    return user


def _by_admin(
    event: str, target: User, admin: Caller, now: datetime, context: RequestContext, **detail: Any
) -> AuditEntry:
    return AuditEntry(
        event, now, user_id=str(target.id), actor_id=admin.subject, context=context, detail=detail
    )


@dataclass
class Administration:
    """What an admin (a token with the `admin` scope) may do to other users."""

    units_of_work: UnitsOfWork
    policy: SessionPolicy
    clock: Callable[[], datetime]

    async def revoke_sessions(
        self, admin: Caller, user_id: uuid.UUID, *, context: RequestContext
    ) -> list[str]:
        """End every session of the user; returns the ids revoked."""
        now = self.clock()
        async with self.units_of_work() as uow:
            await active_user(uow, self.policy, admin, now=now)
            target = await _target_user(uow, user_id)
            revoked = await revoke_user_sessions(
                uow,
                self.policy,
                target.id,
                reason=RevocationReason.ADMIN,
                now=now,
                context=context,
                actor_id=admin.subject,
            )
            await uow.audit.record(
                _by_admin(
                    "admin.revoke_sessions", target, admin, now, context, sessions=len(revoked)
                )
            )
            await uow.commit()
        return revoked

    async def set_roles(
        self, admin: Caller, user_id: uuid.UUID, roles: frozenset[Role], *, context: RequestContext
    ) -> User:
        """Replace a user's roles; tokens carrying the old roles stop working (new `ver`)."""
        now = self.clock()
        async with self.units_of_work() as uow:
            await active_user(uow, self.policy, admin, now=now)
            target = await _target_user(uow, user_id)
            before = sorted(target.roles)
            target.roles = roles | {Role.USER}
            target.token_version = await uow.users.set_roles(target.id, target.roles)
            await publish_token_version(uow, self.policy, target.id, target.token_version, now=now)
            after = sorted(target.roles)
            await uow.audit.record(
                _by_admin(
                    "admin.roles_changed", target, admin, now, context, before=before, after=after
                )
            )
            await uow.commit()
        return target
