"""Users in SQL, behind the domain's `UserRepository` protocol."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from tessera.storage import entity_from_row, row_values

from auth_service.adapters.models import UserRow
from auth_service.domain.users import Role, User, normalize_email
from auth_service.errors import EmailAlreadyRegisteredError


def _to_user(row: UserRow) -> User:
    return entity_from_row(User, row, roles=frozenset(Role(role) for role in row.roles))


class SqlUserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        row = await self._session.get(UserRow, user_id)
        return _to_user(row) if row is not None else None

    async def get_by_email(self, email: str) -> User | None:
        query = select(UserRow).where(UserRow.email_normalized == normalize_email(email))
        row = (await self._session.execute(query)).scalar_one_or_none()
        return _to_user(row) if row is not None else None

    async def add(self, user: User) -> None:
        columns = row_values(
            UserRow, user, email_normalized=normalize_email(user.email), roles=sorted(user.roles)
        )
        self._session.add(UserRow(**columns))
        try:
            await self._session.flush()
        except IntegrityError as exc:
            # the only unique column besides the random id: a concurrent or earlier registration
            await self._session.rollback()
            raise EmailAlreadyRegisteredError from exc

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self._session.execute(
            update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash)
        )

    async def mark_email_verified(self, user_id: uuid.UUID, *, now: datetime) -> None:
        await self._session.execute(
            update(UserRow)
            .where(UserRow.id == user_id, UserRow.email_verified_at.is_(None))
            .values(email_verified_at=now)
        )

    async def set_roles(self, user_id: uuid.UUID, roles: frozenset[Role]) -> int:
        query = (
            update(UserRow)
            .where(UserRow.id == user_id)
            .values(roles=sorted(roles), token_version=UserRow.token_version + 1)
            .returning(UserRow.token_version)
        )
        return (await self._session.execute(query)).scalar_one()

    async def bump_token_version(self, user_id: uuid.UUID) -> int:
        query = (
            update(UserRow)
            .where(UserRow.id == user_id)
            .values(token_version=UserRow.token_version + 1)
            .returning(UserRow.token_version)
        )
        return (await self._session.execute(query)).scalar_one()
