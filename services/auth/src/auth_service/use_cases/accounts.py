"""Account use cases: registering, the caller's profile, making an admin.

Registration never says whether an address has an account (DESIGN §11): a new address gets an
unverified account and a verification mail, a taken one a "someone tried to register with your
address" mail (a request the mail worker resolves, limited per address), and both answer the
same, after the same argon2id work.

`verify_password` and `active_user` are the two checks other use cases share: the password
behind an email (login, and later step-up), and the user behind a verified access token, still
current for it (auth has the tables at hand, so it checks them, not only the revocation feed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.mail import MailRequestKind
from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitOfWork, UnitsOfWork
from auth_service.domain.sessions import Caller, Session, SessionPolicy
from auth_service.domain.users import Role, User, normalize_email
from auth_service.errors import (
    EmailAlreadyRegisteredError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    StaleTokenError,
    UserNotFoundError,
)
from auth_service.use_cases.mailing import MailLinks, mail_request, verification_mail


async def verify_password(
    uow: UnitOfWork, hasher: PasswordHasher, email: str, password: str
) -> User:
    """The user these credentials belong to, or `InvalidCredentialsError`.

    An unknown email costs one argon2 verification, like a wrong password, so timing does not
    tell them apart. A hash made with older parameters is replaced on success.
    """
    user = await uow.users.get_by_email(normalize_email(email))
    if user is None:
        await hasher.verify_against_dummy(password)
        raise InvalidCredentialsError
    check = await hasher.verify(user.password_hash, password)
    if not check.matches:
        raise InvalidCredentialsError
    if check.needs_rehash:
        user.password_hash = await hasher.hash(password)
        await uow.users.set_password_hash(user.id, user.password_hash)
        await uow.commit()
    return user


async def current_user(uow: UnitOfWork, caller: Caller) -> User:
    """The user a verified access token names, if its `ver` is still current for them.

    A deleted user or a bumped token version makes the token stale at once.
    """
    try:
        user_id = uuid.UUID(caller.subject)
    except ValueError:
        raise StaleTokenError("token subject is not a user") from None
    user = await uow.users.get(user_id)
    if user is None or caller.token_version < user.token_version:
        raise StaleTokenError("token is no longer valid for this user")
    return user


async def active_user(
    uow: UnitOfWork, policy: SessionPolicy, caller: Caller, *, now: datetime
) -> User:
    """`current_user`, and (for a token with `sid`) its session still active."""
    user, _ = await active_user_and_session(uow, policy, caller, now=now)
    return user


async def active_user_and_session(
    uow: UnitOfWork, policy: SessionPolicy, caller: Caller, *, now: datetime
) -> tuple[User, Session | None]:
    """`active_user`, with the token's session (None for a token without `sid`)."""
    user = await current_user(uow, caller)
    if caller.session_id is None:
        return user, None
    session = await uow.sessions.get(caller.session_id)
    if session is None or session.user_id != user.id or not session.is_active(policy, now):
        raise StaleTokenError("the session of this token has ended")
    return user, session


@dataclass
class Accounts:
    """Registration, the profile, and the operator's admin command."""

    units_of_work: UnitsOfWork
    hasher: PasswordHasher
    limiter: RateLimiter
    clock: Callable[[], datetime]
    links: MailLinks

    async def register(self, *, email: str, password: str, ip: str) -> None:
        """Register `email` (see the module docstring); nothing tells whether it was new.

        Rate limited per IP (`register-ip`) before any work is done.
        """
        await self.limiter.hit("register-ip", ip)
        password_hash = await self.hasher.hash(password)  # new or taken: the same cost
        now = self.clock()
        try:
            async with self.units_of_work() as uow:
                if await uow.users.get_by_email(normalize_email(email)) is None:
                    user = self._new_user(email, password_hash, frozenset({Role.USER}))
                    await uow.users.add(user)
                    token, mail = verification_mail(user, self.links, now=now)
                    await uow.email_tokens.add(token)
                    await uow.outbox.add(mail)
                    await uow.commit()
                    return
        except EmailAlreadyRegisteredError:
            pass  # registered concurrently: it is a taken address after all
        async with self.units_of_work() as uow:
            await uow.outbox.add(
                mail_request(MailRequestKind.ALREADY_REGISTERED, normalize_email(email), now=now)
            )
            await uow.commit()

    async def profile(self, caller: Caller) -> User:
        """The caller's own account (`GET /v1/users/me`)."""
        async with self.units_of_work() as uow:
            return await current_user(uow, caller)

    async def exists(self, email: str) -> bool:
        async with self.units_of_work() as uow:
            return await uow.users.get_by_email(normalize_email(email)) is not None

    async def create_or_promote_admin(
        self, *, email: str, password: str | None
    ) -> tuple[User, bool]:
        """Make `email` an admin: create the account (needs a password) or promote an existing one.

        Returns the user and whether it was created. Promotion bumps the token version, so tokens
        minted with the old roles stop working.
        """
        async with self.units_of_work() as uow:
            user = await uow.users.get_by_email(normalize_email(email))
            if user is None:
                if password is None:
                    raise UserNotFoundError(
                        f"no user {email!r}; a password is needed to create one"
                    )
                admin_roles = frozenset({Role.USER, Role.ADMIN})
                created = self._new_user(email, await self.hasher.hash(password), admin_roles)
                created.email_verified_at = created.created_at  # the operator vouches for it
                await uow.users.add(created)
                await uow.commit()
                return created, True
            if not user.email_verified:
                # whoever registered it may not own the address (and knows its password)
                raise EmailNotVerifiedError(
                    f"{user.email} is not verified: its owner opens the mailed link first"
                )
            if not user.is_admin:
                user.roles = user.roles | {Role.ADMIN}
                user.token_version = await uow.users.set_roles(user.id, user.roles)
                await uow.commit()
            return user, False

    def _new_user(self, email: str, password_hash: str, roles: frozenset[Role]) -> User:
        return User(
            id=uuid.uuid4(),
            email=email.strip(),
            password_hash=password_hash,
            roles=roles,
            token_version=1,
            created_at=self.clock(),
        )
