"""Proving an address: the link in the verification mail, and asking for another (DESIGN §11)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.email_tokens import (
    EmailTokenPurpose,
    hash_email_token,
    looks_like_email_token,
)
from auth_service.domain.mail import MailRequestKind
from auth_service.domain.ports import RateLimiter, UnitsOfWork
from auth_service.domain.sessions import AuditEntry, RequestContext
from auth_service.domain.users import normalize_email
from auth_service.errors import InvalidEmailTokenError
from auth_service.use_cases.mailing import mail_request


@dataclass
class EmailVerification:
    """Verifies addresses with mailed tokens."""

    units_of_work: UnitsOfWork
    limiter: RateLimiter
    clock: Callable[[], datetime]

    async def verify(self, token: str, *, context: RequestContext) -> None:
        """Use the token up and mark its user's address verified; `InvalidEmailTokenError`
        for any token that cannot be used (one text: which check failed is nobody's business)."""
        purpose = EmailTokenPurpose.VERIFY_EMAIL
        await self.limiter.hit("email-token-ip", context.ip or "unknown")
        if not looks_like_email_token(token, purpose):
            raise InvalidEmailTokenError
        now = self.clock()
        async with self.units_of_work() as uow:
            user_id = await uow.email_tokens.consume(hash_email_token(token), purpose, now=now)
            if user_id is None:
                raise InvalidEmailTokenError
            await uow.users.mark_email_verified(user_id, now=now)
            await uow.audit.record(
                AuditEntry("email.verified", now, user_id=str(user_id), context=context)
            )
            await uow.commit()

    async def request_resend(self, email: str, *, ip: str) -> None:
        """Queue a new verification mail for `email`, if it has an unverified account (the
        mail worker decides, limited per address); the caller is told nothing either way."""
        await self.limiter.hit("mail-request-ip", ip)
        async with self.units_of_work() as uow:
            await uow.outbox.add(
                mail_request(
                    MailRequestKind.RESEND_VERIFICATION, normalize_email(email), now=self.clock()
                )
            )
            await uow.commit()
