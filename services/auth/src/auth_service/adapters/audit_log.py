"""The audit log (`audit_log`): who did what, when, from where. Rows never hold a secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tessera.storage import row_values

from auth_service.adapters.models import AuditRow
from auth_service.adapters.rotation_statements import INSERT_AUDIT
from auth_service.domain.sessions import AuditEntry


def audit_values(entry: AuditEntry) -> dict[str, Any]:
    """The columns of `entry`'s row."""
    return row_values(
        AuditRow,
        entry,
        ip=entry.context.ip,
        user_agent=entry.context.user_agent_for_storage(),
        detail=dict(entry.detail) if entry.detail is not None else None,
    )


class SqlAuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def record(self, entry: AuditEntry) -> None:
        await self._db.execute(INSERT_AUDIT, audit_values(entry))
