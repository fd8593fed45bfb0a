"""Step-up (RFC 9470, DESIGN §11): the signed-in user authenticates again, so a resource service
that demands a recent (or stronger) authentication for one operation can be satisfied.

`POST /v1/auth/step-up` re-authenticates the caller's *session*: its `authenticated_at`, `acr`
and `amr` are updated and a fresh access token states them; the refresh token is unchanged (the
session's next refreshes carry the new context). Without a second factor the password counts
(acr pwd); with one, only the factor does (a TOTP code or a recovery code: acr mfa), so a
stolen password cannot raise a session to what the account requires. Wrong credentials are 403
(a new access token would not fix them) and count against the account's login budget, keyed by
the user id like a password change, so a stolen access token cannot guess them here either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from tessera.tokens.step_up import ACR_MFA, ACR_PWD

from auth_service.adapters.webauthn_ceremonies import RelyingParty
from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.mfa import PASSWORD, TOTP_AMR, MfaMethod, MfaSecrets, Proof, TotpStatus
from auth_service.domain.passkeys import PASSKEY_ACR, CeremonyPurpose
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitOfWork, UnitsOfWork
from auth_service.domain.sessions import (
    AuditEntry,
    Caller,
    RequestContext,
    Session,
    SessionPolicy,
)
from auth_service.domain.users import User
from auth_service.errors import (
    PasskeyRejectedError,
    PasskeySignInError,
    StaleTokenError,
    StepUpMethodError,
    StepUpRefusedError,
)
from auth_service.use_cases.accounts import active_user_and_session
from auth_service.use_cases.login import use_totp_code
from auth_service.use_cases.passkey_answers import verified_passkey


@dataclass
class StepUps:
    """Re-authenticates a signed-in session (see the module docstring)."""

    units_of_work: UnitsOfWork
    hasher: PasswordHasher
    issuer: AccessTokenIssuer
    policy: SessionPolicy
    limiter: RateLimiter
    clock: Callable[[], datetime]
    mfa_secrets: MfaSecrets
    relying_party: RelyingParty

    async def step_up(
        self, caller: Caller, credential: Proof, *, context: RequestContext
    ) -> IssuedAccessToken:
        """A fresh access token whose `auth_time` is now; `StepUpRefusedError` (403) for wrong
        credentials or the wrong kind, `StaleTokenError` (401) for a session that has ended."""
        if caller.session_id is None:
            raise StaleTokenError("only a user's session can step up")
        limit_key = ("step-up", caller.subject)
        await self.limiter.hit("login-account", *limit_key)
        token = await self._authenticate(caller, credential, context, self.clock())
        await self.limiter.reset("login-account", *limit_key)
        return token

    async def _authenticate(
        self,
        caller: Caller,
        credential: Proof,
        context: RequestContext,
        now: datetime,
    ) -> IssuedAccessToken:
        async with self.units_of_work() as uow:
            user, session = await active_user_and_session(uow, self.policy, caller, now=now)
            assert session is not None  # the caller has a session_id
            if credential.kind == MfaMethod.PASSKEY:
                token = await self._with_passkey(uow, user, session, credential, context, now)
                await uow.commit()
                return token
            factor = await uow.mfa.totp(user.id)
            has_mfa = factor is not None and factor.status is TotpStatus.ON
            if has_mfa and credential.kind == PASSWORD:
                raise StepUpMethodError(
                    "this account has two-step verification: enter a code",
                    (MfaMethod.TOTP, MfaMethod.RECOVERY_CODE),
                )
            if not has_mfa and credential.kind != PASSWORD:
                raise StepUpMethodError(
                    "this account has no second factor: enter the password", (PASSWORD,)
                )
            if not await self._check(uow, user, credential, now):
                await uow.audit.record(
                    AuditEntry.of_session("step_up.failed", session, at=now, context=context)
                )
                await uow.commit()
                raise StepUpRefusedError
            acr, amr = (ACR_MFA, TOTP_AMR) if has_mfa else (ACR_PWD, ("pwd",))
            stepped_up = replace(session, authenticated_at=now, acr=acr, amr=amr)
            await uow.sessions.authenticate(
                session.id, at=now, acr=stepped_up.acr, amr=stepped_up.amr
            )
            await uow.audit.record(
                AuditEntry.of_session("step_up", stepped_up, at=now, context=context)
            )
            token = self.issuer.issue(grant_for_user(user, stepped_up))
            await uow.commit()
        return token

    async def _with_passkey(
        self,
        uow: UnitOfWork,
        user: User,
        session: Session,
        credential: Proof,
        context: RequestContext,
        now: datetime,
    ) -> IssuedAccessToken:
        """A passkey of the user counts with or without TOTP (acr phr). An answer that does not
        verify is 403 (the wrong credential); a malformed one or a challenge that is unknown,
        used, expired or of another session, 400."""
        purpose = CeremonyPurpose.STEP_UP
        ceremony = await uow.passkeys.take_ceremony(credential.challenge_id, purpose, now=now)
        if ceremony is None or ceremony.session_id != session.id:
            await uow.commit()  # another session's challenge is used up all the same
            raise PasskeyRejectedError("the passkey challenge is unknown, used or expired")
        try:
            _, passkey = await verified_passkey(
                uow, self.relying_party, ceremony, credential.credential, context, now=now
            )
        except PasskeyRejectedError:  # malformed: a bad request, not a wrong credential
            await uow.commit()
            raise
        except PasskeySignInError:
            await uow.audit.record(
                AuditEntry.of_session("step_up.failed", session, at=now, context=context)
            )
            await uow.commit()  # the challenge stays used up
            raise StepUpRefusedError("the passkey could not confirm it is you") from None
        stepped_up = replace(session, authenticated_at=now, acr=PASSKEY_ACR, amr=passkey.amr)
        await uow.sessions.authenticate(session.id, at=now, acr=PASSKEY_ACR, amr=passkey.amr)
        await uow.audit.record(
            AuditEntry.of_session("step_up", stepped_up, at=now, context=context)
        )
        return self.issuer.issue(grant_for_user(user, stepped_up))

    async def _check(self, uow: UnitOfWork, user: User, credential: Proof, now: datetime) -> bool:
        if credential.kind == PASSWORD:
            return (await self.hasher.verify(user.password_hash, credential.secret)).matches
        if credential.kind == MfaMethod.RECOVERY_CODE:
            code_hash = self.mfa_secrets.recovery_code_hash(user.id, credential.secret)
            return await uow.mfa.use_recovery_code(user.id, code_hash, now=now)
        return await use_totp_code(uow, self.mfa_secrets, user, credential.secret, now=now)
