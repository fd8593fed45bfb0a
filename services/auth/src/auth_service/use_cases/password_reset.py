"""Account recovery: a reset link by mail, then a new password (DESIGN §11).

Asking (`request`) stores a request for the address and nothing else, whether it has an
account or not: the mail worker resolves it into a 30-minute single-use link, or into nothing
(`use_cases/mailing.py`), so neither the answer nor its timing says who has an account.
Confirming (`confirm`) sets the new password, marks the address verified (the link proved it),
kills every other reset link, ends every session of the user and makes every access token
stale (the token version is bumped: orders and billing refuse them within a second through
the revocation feed), writes an audit row and mails a "your password was changed" notice, all
in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.email_tokens import (
    EmailTokenPurpose,
    hash_email_token,
    looks_like_email_token,
)
from auth_service.domain.mail import MailKind, MailRequestKind
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitsOfWork
from auth_service.domain.session_revocation import revoke_user_sessions
from auth_service.domain.sessions import AuditEntry, RequestContext, RevocationReason, SessionPolicy
from auth_service.domain.users import normalize_email
from auth_service.errors import InvalidEmailTokenError
from auth_service.use_cases.mailing import MailLinks, mail_request, notice_mail


@dataclass
class PasswordResets:
    """Password reset by mailed link."""

    units_of_work: UnitsOfWork
    hasher: PasswordHasher
    policy: SessionPolicy
    limiter: RateLimiter
    clock: Callable[[], datetime]
    links: MailLinks

    async def request(self, email: str, *, ip: str) -> None:
        """Queue a reset for `email` (see the module docstring); limited per IP and per
        address, alike for every address."""
        address = normalize_email(email)
        await self.limiter.hit("mail-request-ip", ip)
        await self.limiter.hit("password-reset-address", address)
        async with self.units_of_work() as uow:
            await uow.outbox.add(
                mail_request(MailRequestKind.PASSWORD_RESET, address, now=self.clock())
            )
            await uow.commit()

    async def confirm(self, token: str, new_password: str, *, context: RequestContext) -> None:
        """Set `new_password` for the token's user (see the module docstring);
        `InvalidEmailTokenError` for any token that cannot be used, and nothing changes."""
        purpose = EmailTokenPurpose.PASSWORD_RESET
        await self.limiter.hit("email-token-ip", context.ip or "unknown")
        if not looks_like_email_token(token, purpose):
            raise InvalidEmailTokenError
        password_hash = await self.hasher.hash(new_password)  # before the transaction: slow
        now = self.clock()
        async with self.units_of_work() as uow:
            user_id = await uow.email_tokens.consume(hash_email_token(token), purpose, now=now)
            user = None if user_id is None else await uow.users.get(user_id)
            if user is None:
                raise InvalidEmailTokenError
            await uow.users.set_password_hash(user.id, password_hash)
            await uow.users.mark_email_verified(user.id, now=now)
            await uow.email_tokens.revoke_all(user.id, purpose, now=now)
            await revoke_user_sessions(
                uow,
                self.policy,
                user.id,
                reason=RevocationReason.PASSWORD_RESET,
                now=now,
                context=context,
            )
            await uow.audit.record(
                AuditEntry("password.reset", now, user_id=str(user.id), context=context)
            )
            await uow.outbox.add(notice_mail(MailKind.PASSWORD_CHANGED, user, self.links, now=now))
            await uow.commit()
