"""The audit log (`audit_log`): who did what, when, from where. Rows never hold a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from auth_service.adapters.models import Base, UtcDateTime
from auth_service.domain.sessions import AuditEntry


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    event: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    actor_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


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
