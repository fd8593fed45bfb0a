"""The audit log (`audit_log`): who did what, when, from where. Rows never hold a secret."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from tessera.storage import row_values

from auth_service.adapters.models import AuditRow
from auth_service.domain.sessions import AuditEntry


class SqlAuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def record(self, entry: AuditEntry) -> None:
        values = row_values(
            AuditRow,
            entry,
            ip=entry.context.ip,
            user_agent=entry.context.user_agent_for_storage(),
            detail=dict(entry.detail) if entry.detail is not None else None,
        )
        await self._db.execute(insert(AuditRow).values(**values))
