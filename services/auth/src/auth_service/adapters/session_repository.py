"""Sessions and their refresh tokens in SQL, behind the domain's repository protocols.

Decisions on a presented refresh token must serialise. Rotating a live one writes only if the
token is still unused (`rotations.py`: the guard is in the statement). Every other decision (a
repeat inside the grace window, reuse) holds the token's row: PostgreSQL locks it (`SELECT …
FOR UPDATE`); SQLite has no row locks (SQLAlchemy drops `FOR UPDATE`), so `lock` opens the
transaction with `BEGIN IMMEDIATE`, taking the database's single write lock before reading.
Two refreshes of one live token: both read it unused, the first one's guarded write wins, the
second one's finds it used and writes nothing; that one then takes the lock here and reads the
first one's result (a repeat). The rotation's statements are built once, in
`rotation_statements.py` (the hot path).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tessera.storage import entity_from_row, row_values

from auth_service.adapters.models import RefreshTokenRow, SessionRow, UserRow
from auth_service.adapters.rotation_statements import (
    CLEAR_SEALED,
    LOCK_WITH_SESSION,
    presented_token_of,
)
from auth_service.adapters.rotations import write_rotation
from auth_service.domain.sessions import PresentedToken, RefreshTokenRecord, Rotation, Session
from auth_service.domain.users import normalize_email


class SqlSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def add(self, session: Session) -> None:
        self._db.add(SessionRow(**row_values(SessionRow, session)))
        await self._db.flush()

    async def get(self, session_id: str) -> Session | None:
        row = (
            await self._db.execute(select(SessionRow).where(SessionRow.id == session_id))
        ).scalar_one_or_none()
        return entity_from_row(Session, row) if row is not None else None

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[Session]:
        query = (
            select(SessionRow)
            .where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
            .order_by(SessionRow.created_at)
        )
        return [entity_from_row(Session, row) for row in (await self._db.execute(query)).scalars()]

    async def signed_in_from(self, email: str, ip: str, *, since: datetime) -> bool:
        query = (
            select(SessionRow.id)
            .join(UserRow, UserRow.id == SessionRow.user_id)
            .where(
                UserRow.email_normalized == normalize_email(email),
                SessionRow.ip == ip,
                SessionRow.created_at >= since,
            )
            .limit(1)
        )
        return (await self._db.execute(query)).first() is not None

    async def authenticate(
        self, session_id: str, *, at: datetime, acr: str, amr: tuple[str, ...]
    ) -> None:
        await self._db.execute(
            update(SessionRow)
            .where(SessionRow.id == session_id)
            .values(authenticated_at=at, acr=acr, amr=list(amr))
        )

    async def revoke(self, session_id: str, *, now: datetime, reason: str) -> bool:
        result = await self._db.execute(
            update(SessionRow)
            .where(SessionRow.id == session_id, SessionRow.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class SqlRefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def lock(self, token_hash: bytes) -> PresentedToken | None:
        if self._db.get_bind().dialect.name == "sqlite":
            await self._db.execute(text("BEGIN IMMEDIATE"))
        found = (await self._db.execute(LOCK_WITH_SESSION, {"presented_hash": token_hash})).first()
        return presented_token_of(found) if found is not None else None

    async def get(self, token_hash: bytes) -> RefreshTokenRecord | None:
        query = select(RefreshTokenRow).where(RefreshTokenRow.token_hash == token_hash)
        row = (await self._db.execute(query)).scalar_one_or_none()
        return entity_from_row(RefreshTokenRecord, row) if row is not None else None

    async def add(self, record: RefreshTokenRecord) -> None:
        self._db.add(RefreshTokenRow(**row_values(RefreshTokenRow, record)))
        await self._db.flush()

    async def record_rotation(self, rotation: Rotation) -> bool:
        return await write_rotation(await self._db.connection(), rotation)

    async def clear_sealed(self, session_id: str) -> None:
        await self._db.execute(CLEAR_SEALED, {"family": session_id})


async def clear_expired_sealed_successors(
    session_factory: async_sessionmaker[Any], *, used_before: datetime
) -> int:
    """Drop the sealed successors of tokens rotated before `used_before` (grace window over);
    how many. Refresh never opens them past the window anyway: this is only housekeeping."""
    async with session_factory() as session, session.begin():
        result = await session.execute(
            update(RefreshTokenRow)
            .where(
                RefreshTokenRow.sealed_successor.is_not(None),
                RefreshTokenRow.used_at < used_before,
            )
            .values(sealed_successor=None)
        )
    return int(result.rowcount)
