"""The audit log (`audit_log`): who did what, when, from where. Rows never hold a secret."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.adapters.models import AuditRow
from auth_service.domain.sessions import AuditEntry


class SqlAuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def record(self, entry: AuditEntry) -> None:
        await self._db.execute(
            insert(AuditRow).values(
                occurred_at=entry.occurred_at,
                event=entry.event,
                user_id=entry.user_id,
                actor_id=entry.actor_id,
                session_id=entry.session_id,
                client_id=entry.client_id,
                ip=entry.context.ip,
                user_agent=entry.context.user_agent_for_storage(),
                detail=dict(entry.detail) if entry.detail is not None else None,
            )
        )
