"""Account use cases: registering, the caller's profile, making an admin.

`verify_password` and `active_user` are the two checks other use cases share: the password
behind an email (login, and later step-up), and the user behind a verified access token, still
current for it (auth has the tables at hand, so it checks them, not only the revocation feed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import RateLimiter, UnitOfWork, UnitsOfWork
from auth_service.domain.sessions import Caller, SessionPolicy
from auth_service.domain.users import Role, User, normalize_email
from auth_service.errors import InvalidCredentialsError, StaleTokenError, UserNotFoundError


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
    user = await current_user(uow, caller)
    if caller.session_id is not None:
        session = await uow.sessions.get(caller.session_id)
        if session is None or session.user_id != user.id or not session.is_active(policy, now):
            raise StaleTokenError("the session of this token has ended")
    return user


@dataclass
class Accounts:
    """Registration, the profile, and the operator's admin command."""

    units_of_work: UnitsOfWork
    hasher: PasswordHasher
    limiter: RateLimiter
    clock: Callable[[], datetime]

    async def register(
        self,
        *,
        email: str,
        password: str,
        ip: str,
        roles: frozenset[Role] = frozenset({Role.USER}),
    ) -> User:
        """Create an account; `EmailAlreadyRegisteredError` if the email is taken in any case.

        Rate limited per IP (`register-ip`) before any work is done.
        """
        await self.limiter.hit("register-ip", ip)
        async with self.units_of_work() as uow:
            return await self._add_user(uow, email=email, password=password, roles=roles)

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
                created = await self._add_user(
                    uow, email=email, password=password, roles=admin_roles
                )
                return created, True
            if not user.is_admin:
                user.roles = user.roles | {Role.ADMIN}
                user.token_version = await uow.users.set_roles(user.id, user.roles)
                await uow.commit()
            return user, False

    async def _add_user(
        self, uow: UnitOfWork, *, email: str, password: str, roles: frozenset[Role]
    ) -> User:
        user = User(
            id=uuid.uuid4(),
            email=email.strip(),
            password_hash=await self.hasher.hash(password),
            roles=roles,
            token_version=1,
            created_at=self.clock(),
        )
        await uow.users.add(user)
        await uow.commit()
        return user
