"""Managing a second factor (DESIGN §11): enrol TOTP, confirm it, new recovery codes, turn it
off, and the operator's reset for a user who lost device and codes.

Every change needs a recent authentication of the caller's *session* (a step-up within 5
minutes; with a factor on, at acr mfa), so a stolen access token cannot plant a factor that
survives a password reset nor remove one; nothing is enrolled before the address is verified;
each change is audited and mailed as a notice to the owner, in its own transaction.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import segno
from tessera.tokens.step_up import ACR_MFA, StepUpPolicy

from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.mail import MailKind
from auth_service.domain.mfa import (
    TOTP_AMR,
    MfaSecrets,
    TotpStatus,
    matching_step,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
)
from auth_service.domain.ports import RateLimiter, UnitOfWork, UnitsOfWork
from auth_service.domain.sessions import AuditEntry, Caller, RequestContext, Session, SessionPolicy
from auth_service.domain.users import User, normalize_email
from auth_service.errors import (
    EmailNotVerifiedError,
    MfaNotEnrolledError,
    MfaStateError,
    StaleTokenError,
    StepUpRefusedError,
    UserNotFoundError,
)
from auth_service.use_cases.accounts import active_user_and_session
from auth_service.use_cases.mailing import MailLinks, notice_mail

CHANGE_MAX_AGE_SECONDS = 300
ENROL_POLICY = StepUpPolicy(max_age_seconds=CHANGE_MAX_AGE_SECONDS)
"""Starting an enrolment: a sign-in (or step-up) within the last 5 minutes."""
CHANGE_POLICY = StepUpPolicy(max_age_seconds=CHANGE_MAX_AGE_SECONDS, min_acr=ACR_MFA)
"""Changing an active factor: the same, with the factor itself (acr mfa)."""


def qr_code_svg(text: str) -> str:
    """`text` as a QR code in a standalone SVG document, drawn here: the secret never goes to
    a QR service, and the SPA shows it inline (its CSP allows no `data:` images)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=4,
        border=2,
        svgclass=None,
        lineclass=None,
    )
    return buffer.getvalue().decode("ascii")


@dataclass(frozen=True)
class MfaStatus:
    totp: TotpStatus | None
    recovery_codes_left: int


@dataclass(frozen=True)
class TotpEnrolment:
    """A pending factor: what the user's app needs (shown once; the secret is stored sealed)."""

    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class TotpConfirmation:
    recovery_codes: list[str]
    access_token: IssuedAccessToken
    """The session now authenticated with the factor (acr mfa)."""


@dataclass
class MultiFactor:
    """The caller's second factor (see the module docstring)."""

    units_of_work: UnitsOfWork
    secrets: MfaSecrets
    issuer: AccessTokenIssuer
    policy: SessionPolicy
    links: MailLinks
    clock: Callable[[], datetime]
    limiter: RateLimiter

    async def status(self, caller: Caller) -> MfaStatus:
        now = self.clock()
        async with self.units_of_work() as uow:
            user, _ = await active_user_and_session(uow, self.policy, caller, now=now)
            factor = await uow.mfa.totp(user.id)
            left = await uow.mfa.recovery_codes_left(user.id)
        return MfaStatus(factor.status if factor else None, left)

    async def begin_totp(self, caller: Caller, *, context: RequestContext) -> TotpEnrolment:
        """A new pending secret (replacing a pending one); `MfaStateError` while one is on."""
        now = self.clock()
        async with self.units_of_work() as uow:
            user, session = await self._recently_authenticated(uow, caller, now, ENROL_POLICY)
            if not user.email_verified:
                raise EmailNotVerifiedError("confirm your email address before adding a factor")
            secret = new_totp_secret()
            sealed = self.secrets.seal_totp_secret(user.id, secret)
            if not await uow.mfa.put_pending_totp(user.id, sealed, now=now):
                raise MfaStateError("two-step verification is already on: turn it off first")
            await uow.audit.record(
                AuditEntry.of_session("mfa.totp_pending", session, at=now, context=context)
            )
            await uow.commit()
        uri = provisioning_uri(secret, user.email)
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_code_svg(uri))

    async def confirm_totp(
        self, caller: Caller, *, code: str, context: RequestContext
    ) -> TotpConfirmation:
        """Turn the pending factor on with a code from it: ten recovery codes (shown once), and
        the session authenticated with the factor. It needs the same recent sign-in as starting
        it, and the attempts count against the budget of step-ups (a 6-digit code must not be
        guessable with a stolen token); a wrong code is 403 and changes nothing."""
        limit_key = ("step-up", caller.subject)
        await self.limiter.hit("login-account", *limit_key)
        now = self.clock()
        async with self.units_of_work() as uow:
            user, session = await self._recently_authenticated(uow, caller, now, ENROL_POLICY)
            factor = await uow.mfa.totp(user.id)
            if factor is None or not factor.confirmable(now=now):
                raise MfaStateError("there is no enrolment to confirm: start one (again)")
            secret = self.secrets.open_totp_secret(factor)
            step = None if secret is None else matching_step(secret, code, now=now.timestamp())
            if step is None:
                raise StepUpRefusedError("the code is not right")
            if not await uow.mfa.activate_totp(user.id, factor.sealed_secret, now=now, step=step):
                raise MfaStateError("the enrolment changed meanwhile: start one again")
            codes = await self._new_recovery_codes(uow, user, now)
            stepped_up = replace(session, authenticated_at=now, acr=ACR_MFA, amr=TOTP_AMR)
            await uow.sessions.authenticate(session.id, at=now, acr=ACR_MFA, amr=TOTP_AMR)
            await uow.audit.record(
                AuditEntry.of_session("mfa.totp_enabled", session, at=now, context=context)
            )
            await uow.outbox.add(notice_mail(MailKind.MFA_ENABLED, user, self.links, now=now))
            token = self.issuer.issue(grant_for_user(user, stepped_up))
            await uow.commit()
        await self.limiter.reset("login-account", *limit_key)
        return TotpConfirmation(codes, token)

    async def regenerate_recovery_codes(
        self, caller: Caller, *, context: RequestContext
    ) -> list[str]:
        """Ten new codes replacing every old one (shown once)."""
        now = self.clock()
        async with self.units_of_work() as uow:
            user, session = await self._recently_authenticated(uow, caller, now, CHANGE_POLICY)
            factor = await uow.mfa.totp(user.id)
            if factor is None or factor.status is not TotpStatus.ON:
                raise MfaStateError("recovery codes come with two-step verification: turn it on")
            codes = await self._new_recovery_codes(uow, user, now)
            await uow.audit.record(
                AuditEntry.of_session(
                    "mfa.recovery_codes_regenerated", session, at=now, context=context
                )
            )
            await uow.outbox.add(
                notice_mail(MailKind.RECOVERY_CODES_REGENERATED, user, self.links, now=now)
            )
            await uow.commit()
        return codes

    async def disable_totp(self, caller: Caller, *, context: RequestContext) -> None:
        """Remove the factor and its recovery codes (an active one needs acr mfa)."""
        now = self.clock()
        async with self.units_of_work() as uow:
            user, session = await self._signed_in(uow, caller, now)
            factor = await uow.mfa.totp(user.id)
            if factor is None:
                raise MfaNotEnrolledError("two-step verification is not on")
            active = factor.status is TotpStatus.ON
            (CHANGE_POLICY if active else ENROL_POLICY).check(session, now=now.timestamp())
            if active:
                await uow.mfa.remove_all(user.id)
            elif not await uow.mfa.remove_pending_totp(user.id):
                # confirmed meanwhile: turning an active factor off needs acr mfa
                raise MfaStateError("two-step verification was turned on meanwhile: try again")
            await uow.audit.record(
                AuditEntry.of_session("mfa.totp_disabled", session, at=now, context=context)
            )
            if active:
                await uow.outbox.add(notice_mail(MailKind.MFA_DISABLED, user, self.links, now=now))
            await uow.commit()

    async def _signed_in(
        self, uow: UnitOfWork, caller: Caller, now: datetime
    ) -> tuple[User, Session]:
        if caller.session_id is None:
            raise StaleTokenError("only a user's session can change its factors")
        user, session = await active_user_and_session(uow, self.policy, caller, now=now)
        assert session is not None  # the caller has a session_id
        return user, session

    async def _recently_authenticated(
        self, uow: UnitOfWork, caller: Caller, now: datetime, policy: StepUpPolicy
    ) -> tuple[User, Session]:
        """The caller's user and session, if the session satisfies `policy` (its stored
        authentication, which every token of the session states): else the RFC 9470 challenge."""
        user, session = await self._signed_in(uow, caller, now)
        policy.check(session, now=now.timestamp())
        return user, session

    async def _new_recovery_codes(self, uow: UnitOfWork, user: User, now: datetime) -> list[str]:
        codes = new_recovery_codes()
        hashes = [self.secrets.recovery_code_hash(user.id, code) for code in codes]
        await uow.mfa.replace_recovery_codes(user.id, hashes, now=now)
        return codes


async def reset_mfa_by_operator(
    units_of_work: UnitsOfWork, links: MailLinks, *, email: str, now: datetime
) -> bool:
    """`users reset-mfa`: remove the user's factor and recovery codes, for a user who lost
    both (audited; the owner is mailed a notice, which the running service sends); whether
    there was a factor."""
    async with units_of_work() as uow:
        user = await uow.users.get_by_email(normalize_email(email))
        if user is None:
            raise UserNotFoundError(f"no user {email!r}")
        removed = await uow.mfa.remove_all(user.id)
        await uow.audit.record(
            AuditEntry("mfa.reset_by_operator", now, user_id=str(user.id), actor_id="cli")
        )
        if removed:
            await uow.outbox.add(notice_mail(MailKind.MFA_RESET, user, links, now=now))
        await uow.commit()
    return removed
