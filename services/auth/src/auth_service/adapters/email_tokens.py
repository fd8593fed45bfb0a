"""Mailed tokens in SQL (hashes only), behind the domain's `EmailTokenRepository`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.adapters.models import EmailTokenRow
from auth_service.domain.email_tokens import EmailToken, EmailTokenPurpose


class SqlEmailTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token: EmailToken) -> None:
        self._session.add(
            EmailTokenRow(
                token_hash=token.token_hash,
                user_id=token.user_id,
                purpose=token.purpose.value,
                created_at=token.created_at,
                expires_at=token.expires_at,
            )
        )
        await self._session.flush()

    async def consume(
        self, token_hash: bytes, purpose: EmailTokenPurpose, *, now: datetime
    ) -> uuid.UUID | None:
        # one conditional UPDATE: of two concurrent uses, exactly one gets the row
        result = await self._session.execute(
            update(EmailTokenRow)
            .where(
                EmailTokenRow.token_hash == token_hash,
                EmailTokenRow.purpose == purpose.value,
                EmailTokenRow.used_at.is_(None),
                EmailTokenRow.expires_at > now,
            )
            .values(used_at=now)
            .returning(EmailTokenRow.user_id)
        )
        return result.scalar_one_or_none()

    async def revoke_all(
        self, user_id: uuid.UUID, purpose: EmailTokenPurpose, *, now: datetime
    ) -> None:
        await self._session.execute(
            update(EmailTokenRow)
            .where(
                EmailTokenRow.user_id == user_id,
                EmailTokenRow.purpose == purpose.value,
                EmailTokenRow.used_at.is_(None),
            )
            .values(used_at=now)
        )
