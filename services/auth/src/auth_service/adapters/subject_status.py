"""Whether the user and session behind a subject token are still in good standing (SQL).

Token exchange (DESIGN §6) refuses a subject token whose user's token version moved on or
whose session ended, so auth reads both from its own tables, not only the revocation feed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from auth_service.adapters.models import UserRow
from auth_service.adapters.session_repository import SqlSessionRepository
from auth_service.domain.sessions import SessionPolicy


class SqlSubjectStatus:
    """The domain's `SubjectStatus` over auth's database."""

    def __init__(
        self,
        session_factory: async_sessionmaker[Any],
        policy: SessionPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._session_factory = session_factory
        self._policy = policy
        self._clock = clock

    async def token_version(self, user_id: str) -> int | None:
        try:
            parsed = uuid.UUID(user_id)
        except ValueError:
            return None
        async with self._session_factory() as session:
            query = select(UserRow.token_version).where(UserRow.id == parsed)
            version: int | None = (await session.execute(query)).scalar_one_or_none()
            return version

    async def session_is_active(self, session_id: str) -> bool:
        """Not revoked, not idle or past its absolute lifetime (DESIGN §6 refuses the rest)."""
        async with self._session_factory() as session:
            found = await SqlSessionRepository(session).get(session_id)
        return found is not None and found.is_active(self._policy, self._clock())
