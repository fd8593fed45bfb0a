"""Account use cases: registering, checking a password, making an admin."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from auth_service.domain.passwords import PasswordHasher
from auth_service.domain.ports import UnitOfWork
from auth_service.domain.users import Role, User, normalize_email
from auth_service.errors import InvalidCredentialsError, StaleTokenError, UserNotFoundError


def utc_now() -> datetime:
    return datetime.now(UTC)


async def register_user(
    *,
    uow: UnitOfWork,
    hasher: PasswordHasher,
    email: str,
    password: str,
    roles: frozenset[Role] = frozenset({Role.USER}),
    clock: Callable[[], datetime] = utc_now,
) -> User:
    """Create an account; `EmailAlreadyRegisteredError` if the email is taken in any case."""
    user = User(
        id=uuid.uuid4(),
        email=email.strip(),
        password_hash=await hasher.hash(password),
        roles=roles,
        token_version=1,
        created_at=clock(),
    )
    await uow.users.add(user)
    await uow.commit()
    return user


async def authenticate(
    *, uow: UnitOfWork, hasher: PasswordHasher, email: str, password: str
) -> User:
    """Return the user these credentials belong to, or raise `InvalidCredentialsError`.

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


async def get_user(*, uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = await uow.users.get(user_id)
    if user is None:
        raise UserNotFoundError("no such user")
    return user


async def current_user(*, uow: UnitOfWork, subject: str, token_version: int) -> User:
    """The user a verified access token names, if the token is still current for them.

    auth has the users table at hand, so unlike other services it checks `ver` against the
    database: a deleted user or a bumped token version makes the token stale at once.
    """
    try:
        user_id = uuid.UUID(subject)
    except ValueError:
        raise StaleTokenError("token subject is not a user") from None
    user = await uow.users.get(user_id)
    if user is None or token_version < user.token_version:
        raise StaleTokenError("token is no longer valid for this user")
    return user


async def create_or_promote_admin(
    *, uow: UnitOfWork, hasher: PasswordHasher, email: str, password: str | None
) -> tuple[User, bool]:
    """Make `email` an admin: create the account (needs a password) or promote an existing one.

    Returns the user and whether it was created. Promotion bumps the token version, so tokens
    minted with the old roles stop working.
    """
    user = await uow.users.get_by_email(normalize_email(email))
    if user is None:
        if password is None:
            raise UserNotFoundError(f"no user {email!r}; a password is needed to create one")
        created = await register_user(
            uow=uow,
            hasher=hasher,
            email=email,
            password=password,
            roles=frozenset({Role.USER, Role.ADMIN}),
        )
        return created, True
    if not user.is_admin:
        user.roles = user.roles | {Role.ADMIN}
        user.token_version = await uow.users.set_roles(user.id, user.roles)
        await uow.commit()
    return user, False
