"""Step-up (RFC 9470, DESIGN §11): the signed-in user authenticates again, so a resource service
that demands a recent (or stronger) authentication for one operation can be satisfied.

`POST /v1/auth/step-up` re-authenticates the caller's *session*: its `authenticated_at`, `acr`
and `amr` are updated and a fresh access token states them; the refresh token is unchanged (the
session's next refreshes carry the new context). Today the password is the factor (acr pwd); a
second factor and passkeys raise the level once they exist. Wrong credentials are 403 (a new
access token would not fix them) and count against the account's login budget, keyed by the user
id like a password change, so a stolen access token cannot guess the password here either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from tessera.tokens.step_up import ACR_PWD

from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitsOfWork
from auth_service.domain.sessions import AuditEntry, Caller, RequestContext, SessionPolicy
from auth_service.errors import StaleTokenError, StepUpRefusedError
from auth_service.use_cases.accounts import active_user_and_session


@dataclass
class StepUps:
    """Re-authenticates a signed-in session (see the module docstring)."""

    units_of_work: UnitsOfWork
    hasher: PasswordHasher
    issuer: AccessTokenIssuer
    policy: SessionPolicy
    limiter: RateLimiter
    clock: Callable[[], datetime]

    async def with_password(
        self, caller: Caller, *, password: str, context: RequestContext
    ) -> IssuedAccessToken:
        """A fresh access token whose `auth_time` is now; `StepUpRefusedError` (403) for a
        wrong password, `StaleTokenError` (401) for a session that has ended."""
        if caller.session_id is None:
            raise StaleTokenError("only a user's session can step up")
        limit_key = ("step-up", caller.subject)
        await self.limiter.hit("login-account", *limit_key)
        now = self.clock()
        async with self.units_of_work() as uow:
            user, session = await active_user_and_session(uow, self.policy, caller, now=now)
            assert session is not None  # the caller has a session_id
            check = await self.hasher.verify(user.password_hash, password)
            if not check.matches:
                await uow.audit.record(
                    AuditEntry.of_session("step_up.failed", session, at=now, context=context)
                )
                await uow.commit()
                raise StepUpRefusedError
            stepped_up = replace(session, authenticated_at=now, acr=ACR_PWD, amr=("pwd",))
            await uow.sessions.authenticate(
                session.id, at=now, acr=stepped_up.acr, amr=stepped_up.amr
            )
            await uow.audit.record(
                AuditEntry.of_session("step_up", stepped_up, at=now, context=context)
            )
            token = self.issuer.issue(grant_for_user(user, stepped_up))
            await uow.commit()
        await self.limiter.reset("login-account", *limit_key)
        return token
