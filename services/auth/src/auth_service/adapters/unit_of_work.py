"""One database transaction per use case, with the repositories bound to it."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.adapters.audit_log import SqlAuditLog
from auth_service.adapters.revocation_events import RevocationKind, record_revocation_event
from auth_service.adapters.session_repository import (
    SqlRefreshTokenRepository,
    SqlSessionRepository,
)
from auth_service.adapters.users_repository import SqlUserRepository


class SqlRevocationEvents:
    """The outbox, written in the unit of work's own transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        kind: RevocationKind,
        value: str,
        expires_at: int,
        created_at: datetime,
        min_ver: int | None = None,
    ) -> None:
        await record_revocation_event(
            self._session,
            kind=kind,
            value=value,
            expires_at=expires_at,
            created_at=created_at,
            min_ver=min_ver,
        )


class SqlUnitOfWork:
    """`async with SqlUnitOfWork(factory) as uow:`; anything not committed is rolled back."""

    users: SqlUserRepository
    sessions: SqlSessionRepository
    refresh_tokens: SqlRefreshTokenRepository
    audit: SqlAuditLog
    revocations: SqlRevocationEvents

    def __init__(self, session_factory: async_sessionmaker[Any]) -> None:
        self._session_factory = session_factory
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self.users = SqlUserRepository(self._session)
        self.sessions = SqlSessionRepository(self._session)
        self.refresh_tokens = SqlRefreshTokenRepository(self._session)
        self.audit = SqlAuditLog(self._session)
        self.revocations = SqlRevocationEvents(self._session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def commit(self) -> None:
        assert self._session is not None
        await self._session.commit()
