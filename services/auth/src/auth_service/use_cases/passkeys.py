"""Passkeys (DESIGN §11): register one, list and remove them, and sign in with one.

Registering and removing need a verified address and a sign-in (or step-up) within 5 minutes
of the caller's session, and mail the owner a notice. A sign-in with a passkey is phishing
resistant (acr phr): the browser signs the origin, and the relying party is fixed by settings.

Every ceremony is options, then an answer that consumes the options' challenge once. A sign-in
that fails is refused with one text (401) and audited when it suggests an attack: an unknown
credential, another user's, or a counter that went backwards, which also flags the passkey so
it signs nobody in until its owner replaces it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auth_service.adapters.webauthn_ceremonies import RelyingParty
from auth_service.domain.access_tokens import AccessTokenIssuer
from auth_service.domain.mail import MailKind
from auth_service.domain.mfa import hash_mfa_token, looks_like_mfa_token
from auth_service.domain.passkeys import (
    PASSKEY_ACR,
    CeremonyPurpose,
    Passkey,
    new_ceremony,
)
from auth_service.domain.ports import RateLimiter, UnitOfWork, UnitsOfWork
from auth_service.domain.sessions import (
    AuditEntry,
    Caller,
    ClientId,
    RequestContext,
    Session,
    SessionPolicy,
)
from auth_service.domain.users import User
from auth_service.errors import (
    EmailNotVerifiedError,
    MfaTokenInvalidError,
    PasskeyNotFoundError,
    PasskeyRejectedError,
    StaleTokenError,
)
from auth_service.use_cases.accounts import active_user_and_session
from auth_service.use_cases.login import LoginResult, start_session
from auth_service.use_cases.mailing import MailLinks, notice_mail
from auth_service.use_cases.mfa import ENROL_POLICY
from auth_service.use_cases.passkey_answers import usable_passkeys, verified_passkey


@dataclass(frozen=True)
class CeremonyOptions:
    """What an options call answers: `{"challenge_id", "publicKey"}`."""

    challenge_id: str
    public_key: dict[str, Any]


@dataclass
class Passkeys:
    """See the module docstring."""

    units_of_work: UnitsOfWork
    relying_party: RelyingParty
    issuer: AccessTokenIssuer
    policy: SessionPolicy
    links: MailLinks
    clock: Callable[[], datetime]
    limiter: RateLimiter

    async def registration_options(self, caller: Caller) -> CeremonyOptions:
        await self.limiter.hit("login-account", "passkey-options", caller.subject)
        now = self.clock()
        async with self.units_of_work() as uow:
            user, session = await self._may_change(uow, caller, now)
            existing = await uow.passkeys.list_for_user(user.id)
            ceremony = new_ceremony(
                CeremonyPurpose.REGISTER, now=now, user_id=user.id, session_id=session.id
            )
            await uow.passkeys.add_ceremony(ceremony)
            await uow.commit()
        options = self.relying_party.creation_options(
            ceremony,
            user_id=user.id,
            user_name=user.email,
            exclude=[passkey.credential_id for passkey in existing],
        )
        return CeremonyOptions(ceremony.id, options)

    async def register(
        self,
        caller: Caller,
        *,
        challenge_id: str,
        credential: dict[str, Any],
        name: str,
        context: RequestContext,
    ) -> Passkey:
        """Store the new passkey if the answer verifies for this session's challenge."""
        now = self.clock()
        async with self.units_of_work() as uow:
            ceremony = await uow.passkeys.take_ceremony(
                challenge_id, CeremonyPurpose.REGISTER, now=now
            )
            await uow.commit()  # used up, whatever the answer turns out to be
        async with self.units_of_work() as uow:
            user, session = await self._may_change(uow, caller, now)
            if ceremony is None or ceremony.session_id != session.id:
                raise PasskeyRejectedError("the challenge is unknown, used or expired")
            registered = self.relying_party.verify_registration(ceremony, credential)
            if await uow.passkeys.by_credential_id(registered.credential_id) is not None:
                raise PasskeyRejectedError("this passkey is registered already")
            passkey = Passkey(
                id=uuid.uuid4(),
                user_id=user.id,
                credential_id=registered.credential_id,
                public_key=registered.public_key,
                sign_count=registered.sign_count,
                name=name.strip() or "Passkey",
                synced=registered.synced,
                created_at=now,
            )
            await uow.passkeys.add(passkey)
            await uow.audit.record(
                AuditEntry.of_session(
                    "passkey.added",
                    session,
                    at=now,
                    context=context,
                    detail={"id": str(passkey.id)},
                )
            )
            await uow.outbox.add(notice_mail(MailKind.PASSKEY_ADDED, user, self.links, now=now))
            await uow.commit()
        return passkey

    async def registered(self, caller: Caller) -> Sequence[Passkey]:
        now = self.clock()
        async with self.units_of_work() as uow:
            user, _ = await active_user_and_session(uow, self.policy, caller, now=now)
            return await uow.passkeys.list_for_user(user.id)

    async def remove(
        self, caller: Caller, passkey_id: uuid.UUID, *, context: RequestContext
    ) -> None:
        now = self.clock()
        async with self.units_of_work() as uow:
            user, session = await self._may_change(uow, caller, now)
            if not await uow.passkeys.remove(user.id, passkey_id):
                raise PasskeyNotFoundError("no such passkey of yours")
            await uow.audit.record(
                AuditEntry.of_session(
                    "passkey.removed",
                    session,
                    at=now,
                    context=context,
                    detail={"id": str(passkey_id)},
                )
            )
            await uow.outbox.add(notice_mail(MailKind.PASSKEY_REMOVED, user, self.links, now=now))
            await uow.commit()

    async def sign_in_options(self, *, ip: str) -> CeremonyOptions:
        """Options for a passwordless sign-in: any discoverable passkey of this site (each
        writes a challenge row: counted against the IP like a login attempt)."""
        await self.limiter.hit("login-ip", ip)
        now = self.clock()
        async with self.units_of_work() as uow:
            ceremony = new_ceremony(CeremonyPurpose.LOGIN, now=now)
            await uow.passkeys.add_ceremony(ceremony)
            await uow.commit()
        return CeremonyOptions(ceremony.id, self.relying_party.request_options(ceremony, allow=[]))

    async def mfa_options(self, mfa_token: str, *, ip: str) -> CeremonyOptions:
        """Options for the second step of a password login (the `mfa_token`'s user's passkeys);
        `MfaTokenInvalidError` for a token that cannot be used."""
        await self.limiter.hit("login-ip", ip)
        now = self.clock()
        token_hash = hash_mfa_token(mfa_token) if looks_like_mfa_token(mfa_token) else b""
        async with self.units_of_work() as uow:
            challenge = await uow.mfa.challenge(token_hash) if token_hash else None
            if challenge is None or not challenge.usable(client_id=challenge.client_id, now=now):
                raise MfaTokenInvalidError
            allowed = await self._usable_credentials(uow, challenge.user_id)
            ceremony = new_ceremony(
                CeremonyPurpose.MFA, now=now, user_id=challenge.user_id, mfa_token_hash=token_hash
            )
            await uow.passkeys.add_ceremony(ceremony)
            await uow.commit()
        return CeremonyOptions(
            ceremony.id, self.relying_party.request_options(ceremony, allow=allowed)
        )

    async def step_up_options(self, caller: Caller) -> CeremonyOptions:
        """Options for a step-up of the caller's session with one of its user's passkeys."""
        if caller.session_id is None:
            raise StaleTokenError("only a user's session can step up")
        await self.limiter.hit("login-account", "passkey-options", caller.subject)
        now = self.clock()
        async with self.units_of_work() as uow:
            user, _ = await active_user_and_session(uow, self.policy, caller, now=now)
            allowed = await self._usable_credentials(uow, user.id)
            ceremony = new_ceremony(
                CeremonyPurpose.STEP_UP, now=now, user_id=user.id, session_id=caller.session_id
            )
            await uow.passkeys.add_ceremony(ceremony)
            await uow.commit()
        return CeremonyOptions(
            ceremony.id, self.relying_party.request_options(ceremony, allow=allowed)
        )

    async def _usable_credentials(self, uow: UnitOfWork, user_id: uuid.UUID) -> list[bytes]:
        """The credential ids the browser may offer; none is a 400 (an empty list would let
        it offer any passkey of the site, another account's included)."""
        usable = await usable_passkeys(uow, user_id)
        if not usable:
            raise PasskeyRejectedError("there is no usable passkey on this account")
        return [item.credential_id for item in usable]

    async def sign_in(
        self,
        *,
        challenge_id: str,
        credential: dict[str, Any],
        client_id: ClientId,
        context: RequestContext,
    ) -> LoginResult:
        """A session at acr phr for the passkey's user, if the answer verifies."""
        await self.limiter.hit("login-ip", context.ip or "unknown")
        now = self.clock()
        async with self.units_of_work() as uow:
            ceremony = await uow.passkeys.take_ceremony(
                challenge_id, CeremonyPurpose.LOGIN, now=now
            )
            if ceremony is None:
                raise PasskeyRejectedError("the challenge is unknown, used or expired")
            await uow.commit()  # used up, whatever comes next
        async with self.units_of_work() as uow:
            user, passkey = await verified_passkey(
                uow, self.relying_party, ceremony, credential, context, now=now
            )
            if not user.email_verified:
                raise EmailNotVerifiedError
            result = await start_session(
                uow,
                self.issuer,
                user,
                client_id,
                context,
                now=now,
                acr=PASSKEY_ACR,
                amr=passkey.amr,
            )
            await uow.commit()
        return result

    async def _may_change(
        self, uow: UnitOfWork, caller: Caller, now: datetime
    ) -> tuple[User, Session]:
        """The caller's user and session, if they may add or remove a passkey: a verified
        address and a sign-in (or step-up) within 5 minutes (else the RFC 9470 challenge)."""
        if caller.session_id is None:
            raise StaleTokenError("only a user's session can change its passkeys")
        user, session = await active_user_and_session(uow, self.policy, caller, now=now)
        assert session is not None
        if not user.email_verified:
            raise EmailNotVerifiedError("confirm your email address before adding a passkey")
        ENROL_POLICY.check(session, now=now.timestamp())
        return user, session
