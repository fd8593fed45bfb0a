"""What auth mails, and the requests the outbox worker resolves into mails (DESIGN §11).

`MailLinks` builds the links into the SPA (`<APP_URL>/#/verify?token=…`, `/#/reset?token=…`);
the entry builders give the token record and the outbox entry that travel together in one
transaction. `MailRequests.resolve` runs in the worker's transaction: a password reset or a
resent verification asked for an address is only there decided to be a mail (a token and
its link) or nothing, so the HTTP request did the same work whoever asked (no timing oracle
for "is this address registered?"), and the per-address limits apply there too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.email_tokens import EmailToken, EmailTokenPurpose, issue_email_token
from auth_service.domain.mail import MailKind, MailRequestKind, OutboxEntry, render_mail
from auth_service.domain.ports import RateLimiter, UnitOfWork
from auth_service.domain.users import User
from auth_service.errors import RateLimitedError

RESET_MINUTES = int(EmailTokenPurpose.PASSWORD_RESET.lifetime.total_seconds() // 60)


@dataclass(frozen=True)
class MailLinks:
    """Links into the app (the SPA) at `app_url`."""

    app_url: str

    def verify(self, token: str) -> str:
        return f"{self.app_url}/#/verify?token={token}"

    def reset(self, token: str) -> str:
        return f"{self.app_url}/#/reset?token={token}"


def verification_mail(
    user: User, links: MailLinks, *, now: datetime
) -> tuple[EmailToken, OutboxEntry]:
    """A new verification token for `user`, and the mail that carries its link."""
    token, record = issue_email_token(EmailTokenPurpose.VERIFY_EMAIL, user.id, now=now)
    mail = render_mail(
        MailKind.VERIFY_EMAIL, to=user.email, app_url=links.app_url, link=links.verify(token)
    )
    entry = OutboxEntry(uuid.uuid4(), MailKind.VERIFY_EMAIL, now, mail, None, record.expires_at)
    return record, entry


def reset_mail(user: User, links: MailLinks, *, now: datetime) -> tuple[EmailToken, OutboxEntry]:
    """A new password-reset token for `user`, and the mail that carries its link."""
    token, record = issue_email_token(EmailTokenPurpose.PASSWORD_RESET, user.id, now=now)
    mail = render_mail(
        MailKind.PASSWORD_RESET,
        to=user.email,
        app_url=links.app_url,
        link=links.reset(token),
        minutes=RESET_MINUTES,
    )
    entry = OutboxEntry(uuid.uuid4(), MailKind.PASSWORD_RESET, now, mail, None, record.expires_at)
    return record, entry


def notice_mail(kind: MailKind, user: User, links: MailLinks, *, now: datetime) -> OutboxEntry:
    """A mail without a token (a notice: the password changed, someone tried to register)."""
    mail = render_mail(kind, to=user.email, app_url=links.app_url)
    return OutboxEntry(uuid.uuid4(), kind, now, mail)


def mail_request(kind: MailRequestKind, address: str, *, now: datetime) -> OutboxEntry:
    """A request for the worker to resolve (see the module docstring)."""
    return OutboxEntry(uuid.uuid4(), kind, now, address=address)


@dataclass
class MailRequests:
    """Resolves requests into mails, in the worker's unit of work."""

    links: MailLinks
    limiter: RateLimiter
    clock: Callable[[], datetime]

    async def resolve(
        self, uow: UnitOfWork, kind: MailRequestKind, address: str
    ) -> OutboxEntry | None:
        """The mail this request calls for (its token added to `uow`), or None."""
        now = self.clock()
        user = await uow.users.get_by_email(address)
        if user is None:
            return None
        if kind is MailRequestKind.PASSWORD_RESET:
            # earlier links stay usable until one is used (confirm kills the rest): a stranger
            # asking for resets cannot keep breaking the owner's link
            record, entry = reset_mail(user, self.links, now=now)
            await uow.email_tokens.add(record)
            return entry
        if kind is MailRequestKind.RESEND_VERIFICATION:
            if user.email_verified or not await self._allowed("verification-resend", address):
                return None
            await uow.email_tokens.revoke_all(user.id, EmailTokenPurpose.VERIFY_EMAIL, now=now)
            record, entry = verification_mail(user, self.links, now=now)
            await uow.email_tokens.add(record)
            return entry
        if not await self._allowed("registration-warning", address):
            return None
        return notice_mail(MailKind.ALREADY_REGISTERED, user, self.links, now=now)

    async def _allowed(self, scope: str, address: str) -> bool:
        try:
            await self.limiter.hit(scope, address)
        except RateLimitedError:
            return False  # limited quietly: the requester was answered 202 long ago
        return True
