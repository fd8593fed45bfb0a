"""Password login: check the credentials, start a session, mint its first tokens.

A login opens a **session** (a refresh-token family, DESIGN §3) in the same unit of work as its
first refresh token and the audit row; the session id is `sid` in the access token. A failed
login is audited too (in its own commit), then refused with one message for every cause. With
`require_verified_email`, the right password to an unverified address is then refused as
`EmailNotVerifiedError` (403), and no session starts.

With a second factor on (DESIGN §11), the right password answers `MfaRequiredError` carrying
a single-use `mfa_token` instead of a session; `complete_mfa` takes it with a TOTP code or a
recovery code and starts the session at acr mfa. Order of refusals: password, unverified
address, then the second factor.

Rate limits: every attempt counts against the caller's IP (`login-ip`) and against the
account from that IP (`login-account`); a success clears the latter, so only failures add up.
Every failure also counts against the account from all IPs together (`login-account-failures`):
a higher ceiling that no choice of client IP escapes, which an IP the account signed in from
recently is exempt from, so a stranger can exhaust it for new IPs but never lock the owner
out where they usually sign in (ADR 0009). Every window expires by itself. A wrong second
factor counts exactly like a wrong password, and an `mfa_token` dies after five of them, so
the codes cannot be guessed faster than passwords from any number of IPs.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tessera.tokens.step_up import ACR_MFA, ACR_PWD

from auth_service.adapters.webauthn_ceremonies import RelyingParty
from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.mfa import (
    TOTP_AMR,
    MfaChallenge,
    MfaMethod,
    MfaSecrets,
    Proof,
    TotpStatus,
    hash_mfa_token,
    issue_mfa_token,
    looks_like_mfa_token,
    matching_step,
)
from auth_service.domain.passkeys import PASSKEY_ACR, CeremonyPurpose, Passkey
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitOfWork, UnitsOfWork
from auth_service.domain.refresh_tokens import generate_refresh_token, hash_refresh_token
from auth_service.domain.sessions import (
    AuditEntry,
    ClientId,
    RefreshTokenRecord,
    RequestContext,
    Session,
)
from auth_service.domain.users import User, normalize_email
from auth_service.errors import (
    EmailNotVerifiedError,
    InvalidCredentialsError,
    MfaCodeInvalidError,
    MfaRequiredError,
    MfaTokenInvalidError,
    PasskeyRejectedError,
    PasskeySignInError,
    RateLimitedError,
)
from auth_service.use_cases.accounts import verify_password
from auth_service.use_cases.passkey_answers import usable_passkeys, verified_passkey


@dataclass(frozen=True)
class LoginResult:
    user: User
    session_id: str
    access_token: IssuedAccessToken
    refresh_token: str


@dataclass
class Logins:
    """Signs users in with a password, and a second factor where the account has one."""

    units_of_work: UnitsOfWork
    hasher: PasswordHasher
    issuer: AccessTokenIssuer
    limiter: RateLimiter
    clock: Callable[[], datetime]
    mfa_secrets: MfaSecrets
    relying_party: RelyingParty
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
        await self._count_attempt(account, ip)
        try:
            result = await self._log_in(email, password, client_id, context)
        except InvalidCredentialsError:
            await self._count_failure(account)
            raise
        await self.limiter.reset("login-account", account, ip)
        return result

    async def complete_mfa(
        self,
        *,
        mfa_token: str,
        client_id: ClientId,
        factor: Proof,
        context: RequestContext,
    ) -> LoginResult:
        """The second step: start the session (acr mfa) if `factor` is right.

        `MfaTokenInvalidError` for a token that cannot be used (unknown, used, expired, of
        another client, out of wrong codes); `MfaCodeInvalidError` for a wrong or reused code,
        which counts against the token and the account like a wrong password."""
        ip = context.ip or "unknown"
        await self.limiter.hit("login-ip", ip)
        if not looks_like_mfa_token(mfa_token):
            raise MfaTokenInvalidError
        token_hash = hash_mfa_token(mfa_token)
        now = self.clock()
        async with self.units_of_work() as uow:
            challenge = await uow.mfa.challenge(token_hash)
            if challenge is None or not challenge.usable(client_id=client_id.value, now=now):
                raise MfaTokenInvalidError
            user = await uow.users.get(challenge.user_id)
            if user is None:
                raise MfaTokenInvalidError
        account = normalize_email(user.email)
        await self._count_attempt(account, ip)
        try:
            result = await self._complete_mfa(challenge, user, client_id, factor, context)
        except (MfaCodeInvalidError, PasskeySignInError, PasskeyRejectedError):
            await self._count_failure(account)
            raise
        await self.limiter.reset("login-account", account, ip)
        return result

    async def _count_attempt(self, account: str, ip: str) -> None:
        """One attempt at the account from `ip` (the caller counted it against the IP)."""
        await self.limiter.hit("login-account", account, ip)
        if not await self._known_ip(account, ip):
            await self.limiter.check("login-account-failures", account)

    async def _count_failure(self, account: str) -> None:
        # counted, never answered: this attempt is refused for its credentials
        with contextlib.suppress(RateLimitedError):
            await self.limiter.hit("login-account-failures", account)

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
            factor = await uow.mfa.totp(user.id)
            if factor is not None and factor.status is TotpStatus.ON:
                mfa_token, challenge = issue_mfa_token(user.id, client_id.value, now=now)
                await uow.mfa.add_challenge(challenge)
                await uow.commit()
                methods = [MfaMethod.TOTP, MfaMethod.RECOVERY_CODE]
                if await usable_passkeys(uow, user.id):
                    methods.append(MfaMethod.PASSKEY)
                raise MfaRequiredError(mfa_token, tuple(methods))
            result = await start_session(
                uow, self.issuer, user, client_id, context, now=now, acr=ACR_PWD, amr=("pwd",)
            )
            await uow.commit()
        return result

    async def _complete_mfa(
        self,
        challenge: MfaChallenge,
        user: User,
        client_id: ClientId,
        factor: Proof,
        context: RequestContext,
    ) -> LoginResult:
        now = self.clock()
        async with self.units_of_work() as uow:
            if not await uow.mfa.claim_attempt(challenge.token_hash, now=now):
                raise MfaTokenInvalidError  # spent meanwhile (used, or out of attempts)
            passkey = None
            if factor.kind == MfaMethod.PASSKEY:
                # a refusal is audited and counted (its attempt is spent) and answered 401
                passkey = await self._passkey(uow, challenge, factor, context, now)
            elif not await self._use_factor(uow, user, factor, now):
                await uow.audit.record(
                    AuditEntry(
                        "login.mfa_failure",
                        now,
                        user_id=str(user.id),
                        client_id=client_id.value,
                        context=context,
                        detail={"method": str(factor.kind)},
                    )
                )
                await uow.commit()  # the attempt stays spent
                raise MfaCodeInvalidError
            await uow.mfa.use_challenge(challenge.token_hash, now=now)
            acr: str = ACR_MFA
            amr: tuple[str, ...] = TOTP_AMR
            if passkey is not None:
                acr, amr = PASSKEY_ACR, ("pwd", *passkey.amr)
            result = await start_session(
                uow, self.issuer, user, client_id, context, now=now, acr=acr, amr=amr
            )
            await uow.commit()
        return result

    async def _passkey(
        self,
        uow: UnitOfWork,
        challenge: MfaChallenge,
        factor: Proof,
        context: RequestContext,
        now: datetime,
    ) -> Passkey:
        ceremony = await uow.passkeys.take_ceremony(
            factor.challenge_id, CeremonyPurpose.MFA, now=now
        )
        if ceremony is None or ceremony.mfa_token_hash != challenge.token_hash:
            await uow.commit()  # the attempt stays spent
            raise PasskeyRejectedError("the challenge is unknown, used or expired")
        try:
            _, passkey = await verified_passkey(
                uow, self.relying_party, ceremony, factor.credential, context, now=now
            )
        except PasskeyRejectedError:  # malformed: the attempt and the challenge stay spent
            await uow.commit()
            raise
        return passkey

    async def _use_factor(self, uow: UnitOfWork, user: User, factor: Proof, now: datetime) -> bool:
        """Consume the factor if it is right (a TOTP step once, a recovery code once)."""
        if factor.kind == MfaMethod.RECOVERY_CODE:
            code_hash = self.mfa_secrets.recovery_code_hash(user.id, factor.secret)
            return await uow.mfa.use_recovery_code(user.id, code_hash, now=now)
        return await use_totp_code(uow, self.mfa_secrets, user, factor.secret, now=now)


async def start_session(
    uow: UnitOfWork,
    issuer: AccessTokenIssuer,
    user: User,
    client_id: ClientId,
    context: RequestContext,
    *,
    now: datetime,
    acr: str,
    amr: tuple[str, ...],
) -> LoginResult:
    """A new session (its first refresh token, the audit row, the first access token) in
    `uow`, authenticated now at `acr` by `amr`; the caller commits."""
    session = Session(
        id=str(uuid.uuid4()),
        user_id=user.id,
        client_id=client_id.value,
        user_agent=context.user_agent_for_storage(),
        ip=context.ip,
        created_at=now,
        last_used_at=now,
        authenticated_at=now,
        acr=acr,
        amr=amr,
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
    await uow.audit.record(AuditEntry.of_session("login.success", session, at=now, context=context))
    token = issuer.issue(grant_for_user(user, session))
    return LoginResult(user, session.id, token, refresh_token)


async def use_totp_code(
    uow: UnitOfWork, secrets: MfaSecrets, user: User, code: str, *, now: datetime
) -> bool:
    """Whether `code` is a current code of the user's active TOTP factor, consuming its step
    (so it, and any earlier code, is never accepted again)."""
    factor = await uow.mfa.totp(user.id)
    if factor is None or factor.status is not TotpStatus.ON:
        return False
    secret = secrets.open_totp_secret(factor)
    step = None if secret is None else matching_step(secret, code, now=now.timestamp())
    return step is not None and await uow.mfa.use_totp_step(user.id, step)
