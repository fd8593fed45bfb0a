"""Password login: check the credentials, start a session, mint its first tokens.

A login opens a **session** (a refresh-token family, DESIGN §3) in the same unit of work as its
first refresh token and the audit row; the session id is `sid` in the access token. A failed
login is audited too (in its own commit), then refused with one message for every cause. With
`require_verified_email`, the right password to an unverified address is then refused as
`EmailNotVerifiedError` (403), and no session starts.

Rate limits: every attempt counts against the caller's IP (`login-ip`) and against the
account from that IP (`login-account`); a success clears the latter, so only failures add up.
Every failure also counts against the account from all IPs together (`login-account-failures`):
a higher ceiling that no choice of client IP escapes, which an IP the account signed in from
recently is exempt from, so a stranger can exhaust it for new IPs but never lock the owner
out where they usually sign in (ADR 0009). Every window expires by itself.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitsOfWork
from auth_service.domain.refresh_tokens import generate_refresh_token, hash_refresh_token
from auth_service.domain.sessions import (
    AuditEntry,
    ClientId,
    RefreshTokenRecord,
    RequestContext,
    Session,
)
from auth_service.domain.users import User, normalize_email
from auth_service.errors import EmailNotVerifiedError, InvalidCredentialsError, RateLimitedError
from auth_service.use_cases.accounts import verify_password


@dataclass(frozen=True)
class LoginResult:
    user: User
    session_id: str
    access_token: IssuedAccessToken
    refresh_token: str


@dataclass
class Logins:
    """Signs users in with a password."""

    units_of_work: UnitsOfWork
    hasher: PasswordHasher
    issuer: AccessTokenIssuer
    limiter: RateLimiter
    clock: Callable[[], datetime]
    known_ip_days: int = 90
    require_verified_email: bool = True
    """EMAIL_VERIFICATION=required: an unverified address cannot sign in (after the password)."""

    async def log_in(
        self, *, email: str, password: str, client_id: ClientId, context: RequestContext
    ) -> LoginResult:
        """Authenticate and start a session; `InvalidCredentialsError` for any bad credential,
        `RateLimitedError` past the limits."""
        ip = context.ip or "unknown"
        account = normalize_email(email)
        await self.limiter.hit("login-ip", ip)
        await self.limiter.hit("login-account", account, ip)
        if not await self._known_ip(account, ip):
            await self.limiter.check("login-account-failures", account)
        try:
            result = await self._log_in(email, password, client_id, context)
        except InvalidCredentialsError:
            # counted, never answered: this attempt is refused for its credentials
            with contextlib.suppress(RateLimitedError):
                await self.limiter.hit("login-account-failures", account)
            raise
        await self.limiter.reset("login-account", account, ip)
        return result

    async def _known_ip(self, account: str, ip: str) -> bool:
        """Whether the account signed in from `ip` within `known_ip_days`."""
        since = self.clock() - timedelta(days=self.known_ip_days)
        async with self.units_of_work() as uow:
            return await uow.sessions.signed_in_from(account, ip, since=since)

    async def _log_in(
        self, email: str, password: str, client_id: ClientId, context: RequestContext
    ) -> LoginResult:
        now = self.clock()
        async with self.units_of_work() as uow:
            try:
                user = await verify_password(uow, self.hasher, email, password)
            except InvalidCredentialsError:
                await uow.audit.record(
                    AuditEntry(
                        "login.failure",
                        now,
                        client_id=client_id.value,
                        context=context,
                        detail={"email": normalize_email(email)[:320]},
                    )
                )
                await uow.commit()
                raise
            if self.require_verified_email and not user.email_verified:
                raise EmailNotVerifiedError  # only now: the password was right
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
                AuditEntry.of_session("login.success", session, at=now, context=context)
            )
            grant = grant_for_user(user, session)
            token = self.issuer.issue(grant)
            await uow.commit()
        return LoginResult(user, session.id, token, refresh_token)
