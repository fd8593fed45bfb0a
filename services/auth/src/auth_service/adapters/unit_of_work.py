"""One database transaction per use case, with the repositories bound to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.adapters.audit_log import SqlAuditLog
from auth_service.adapters.email_tokens import SqlEmailTokenRepository
from auth_service.adapters.mail_outbox import OutboxSealer, SqlMailOutbox
from auth_service.adapters.mfa_repository import SqlMfaRepository
from auth_service.adapters.passkey_repository import SqlPasskeyRepository
from auth_service.adapters.revocation_events import record_revocation_event
from auth_service.adapters.session_repository import (
    SqlRefreshTokenRepository,
    SqlSessionRepository,
)
from auth_service.adapters.users_repository import SqlUserRepository
from auth_service.domain.sessions import Revocation


class SqlRevocationEvents:
    """The outbox, written in the unit of work's own transaction, just before it commits.

    Writing an event takes the feed's advisory lock (commit order = cursor order). Holding it
    while the use case goes on to lock session rows would deadlock against a transaction that
    locked one of those rows first and now waits for the advisory lock (logout-all against a
    concurrent logout). So events are queued and written by `commit`, after every row lock:
    the advisory lock is always the last lock a transaction takes.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._pending: list[Revocation] = []

    async def record(self, revocation: Revocation) -> None:
        self._pending.append(revocation)

    async def write_pending(self) -> list[Revocation]:
        """Insert the queued events (called by `SqlUnitOfWork.commit`); the ones written."""
        pending, self._pending = self._pending, []
        for revocation in pending:
            await record_revocation_event(self._session, revocation)
        return pending


class SqlUnitOfWork:
    """`async with SqlUnitOfWork(factory) as uow:`; anything not committed is rolled back."""

    users: SqlUserRepository
    sessions: SqlSessionRepository
    refresh_tokens: SqlRefreshTokenRepository
    audit: SqlAuditLog
    revocations: SqlRevocationEvents
    email_tokens: SqlEmailTokenRepository
    outbox: SqlMailOutbox
    mfa: SqlMfaRepository
    passkeys: SqlPasskeyRepository

    def __init__(
        self,
        session_factory: async_sessionmaker[Any],
        *,
        revoked: Callable[[Revocation], None] | None = None,
        outbox_sealer: OutboxSealer | None = None,
        mail_added: Callable[[], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._revoked = revoked
        self._outbox_sealer = outbox_sealer
        self._mail_added = mail_added
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self.users = SqlUserRepository(self._session)
        self.sessions = SqlSessionRepository(self._session)
        self.refresh_tokens = SqlRefreshTokenRepository(self._session)
        self.audit = SqlAuditLog(self._session)
        self.revocations = SqlRevocationEvents(self._session)
        self.email_tokens = SqlEmailTokenRepository(self._session)
        self.outbox = SqlMailOutbox(self._session, self._outbox_sealer)
        self.mfa = SqlMfaRepository(self._session)
        self.passkeys = SqlPasskeyRepository(self._session)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None

    async def commit(self) -> None:
        assert self._session is not None
        written = await self.revocations.write_pending()
        await self._session.commit()
        if self._revoked is not None:
            for revocation in written:
                self._revoked(revocation)
        if self.outbox.added and self._mail_added is not None:
            self._mail_added()  # the worker sends it now, not at its next poll
