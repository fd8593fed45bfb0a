"""A user's sessions: list them, revoke one, log out (here or everywhere), change the password.

Each use case runs in one unit of work and commits once: session revocations, the token-version
bump, their revocation events and the audit rows land together (DESIGN §3, §4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.email_tokens import EmailTokenPurpose
from auth_service.domain.mail import MailKind
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitsOfWork
from auth_service.domain.session_revocation import revoke_session, revoke_user_sessions
from auth_service.domain.sessions import (
    AuditEntry,
    Caller,
    RequestContext,
    RevocationReason,
    Session,
    SessionPolicy,
)
from auth_service.errors import (
    SessionMismatchError,
    SessionNotFoundError,
    WrongCurrentPasswordError,
)
from auth_service.use_cases.accounts import active_user
from auth_service.use_cases.mailing import MailLinks, notice_mail
from auth_service.use_cases.refresh import SessionCheck, session_of_refresh_token


@dataclass
class Sessions:
    """The signed-in user's own sessions (devices)."""

    units_of_work: UnitsOfWork
    policy: SessionPolicy
    hasher: PasswordHasher
    limiter: RateLimiter
    clock: Callable[[], datetime]
    links: MailLinks

    async def list(self, caller: Caller) -> Sequence[Session]:
        """The caller's live sessions (the one the token names among them)."""
        now = self.clock()
        async with self.units_of_work() as uow:
            user = await active_user(uow, self.policy, caller, now=now)
            sessions = await uow.sessions.list_for_user(user.id)
        return [s for s in sessions if s.is_active(self.policy, now)]

    async def revoke(self, caller: Caller, session_id: str, *, context: RequestContext) -> None:
        """Revoke one of the caller's sessions; `SessionNotFoundError` if not theirs or ended."""
        now = self.clock()
        async with self.units_of_work() as uow:
            user = await active_user(uow, self.policy, caller, now=now)
            session = await uow.sessions.get(session_id)
            if (
                session is None
                or session.user_id != user.id
                or not session.is_active(self.policy, now)
            ):
                raise SessionNotFoundError("no such session")
            await revoke_session(
                uow,
                self.policy,
                session,
                reason=RevocationReason.REVOKED_BY_USER,
                now=now,
                context=context,
                actor_id=str(user.id),
            )
            await uow.commit()

    async def log_out(
        self,
        *,
        bearer: Caller | None,
        refresh_token: str | None,
        context: RequestContext,
        check_session: SessionCheck | None = None,
    ) -> bool:
        """End one session: the one a bearer token's `sid` names, or the one a refresh token names.

        The web client logs out with its refresh cookie alone (`bearer` None), after
        `check_session` (its CSRF binding) accepted the cookie's session. The mobile client logs
        out with its bearer token and may send its refresh token too: then both must name the
        same session, else `SessionMismatchError` and nothing ends. A bearer token without `sid`
        (a service token) names no session, so it never ends the one a refresh token names. A
        refresh token that names no session (unknown, pruned) confirms nothing and refutes
        nothing.

        Returns whether anything was revoked; an unknown or already ended session is not an
        error (logout is idempotent).
        """
        async with self.units_of_work() as uow:
            named: Session | None = None
            if refresh_token is not None:
                named = await session_of_refresh_token(uow, refresh_token)
            if check_session is not None:
                check_session(named.id if named is not None else None)
            if bearer is not None:
                if named is not None and named.id != bearer.session_id:
                    raise SessionMismatchError
                named = await uow.sessions.get(bearer.session_id) if bearer.session_id else None
            if named is None:
                return False
            revoked = await revoke_session(
                uow,
                self.policy,
                named,
                reason=RevocationReason.LOGOUT,
                now=self.clock(),
                context=context,
            )
            await uow.commit()
        return revoked

    async def log_out_everywhere(self, caller: Caller, *, context: RequestContext) -> None:
        """End every session of the caller and make all their access tokens stale."""
        now = self.clock()
        async with self.units_of_work() as uow:
            user = await active_user(uow, self.policy, caller, now=now)
            await revoke_user_sessions(
                uow,
                self.policy,
                user.id,
                reason=RevocationReason.LOGOUT_ALL,
                now=now,
                context=context,
            )
            await uow.commit()

    async def change_password(
        self,
        caller: Caller,
        *,
        current_password: str,
        new_password: str,
        context: RequestContext,
    ) -> None:
        """Replace the password; every other session ends, every access token goes stale and
        a "your password was changed" notice is mailed.

        The caller's own session survives: its next refresh brings an access token with the new
        `ver`. A wrong current password is audited and refused with `WrongCurrentPasswordError`
        (403: the caller is authenticated, the change is what is refused).

        The attempts count against the `login-account` limit, keyed by the user id, not
        email+IP: guessing a password here gets the same budget as guessing it at login, one
        stolen token gets one budget from however many IPs, and the key's own shape
        ("password-change", id) never shares a counter with login's (email, IP) keys, so failed
        changes do not slow the user's logins, nor the reverse. A success clears the count.
        """
        limit_key = ("password-change", caller.subject)
        await self.limiter.hit("login-account", *limit_key)
        now = self.clock()
        async with self.units_of_work() as uow:
            user = await active_user(uow, self.policy, caller, now=now)
            check = await self.hasher.verify(user.password_hash, current_password)

            def audited(event: str) -> AuditEntry:
                return AuditEntry(
                    event, now, user_id=str(user.id), session_id=caller.session_id, context=context
                )

            if not check.matches:
                await uow.audit.record(audited("password.change_failed"))
                await uow.commit()
                raise WrongCurrentPasswordError
            await uow.users.set_password_hash(user.id, await self.hasher.hash(new_password))
            await revoke_user_sessions(
                uow,
                self.policy,
                user.id,
                reason=RevocationReason.PASSWORD_CHANGE,
                now=now,
                context=context,
                keep_session_id=caller.session_id,
            )
            # a reset link already mailed would undo the change: it dies with the old password
            await uow.email_tokens.revoke_all(user.id, EmailTokenPurpose.PASSWORD_RESET, now=now)
            await uow.audit.record(audited("password.changed"))
            await uow.outbox.add(notice_mail(MailKind.PASSWORD_CHANGED, user, self.links, now=now))
            await uow.commit()
        await self.limiter.reset("login-account", *limit_key)
