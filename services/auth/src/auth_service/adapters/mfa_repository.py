"""Second factors in SQL, behind the domain's `MfaRepository`.

Every use of a code or an `mfa_token` is one conditional UPDATE, so of two concurrent requests
exactly one gets it: a TOTP step (only a step later than the last one used), a recovery code
(still unused), an `mfa_token` (unused, alive, within its wrong-code budget).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.adapters.models import MfaChallengeRow, RecoveryCodeRow, TotpFactorRow
from auth_service.domain.mfa import MFA_TOKEN_MAX_FAILURES, MfaChallenge, TotpFactor


class SqlMfaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def totp(self, user_id: uuid.UUID) -> TotpFactor | None:
        row = await self._session.get(TotpFactorRow, user_id, populate_existing=True)
        if row is None:
            return None
        return TotpFactor(
            user_id=row.user_id,
            sealed_secret=row.sealed_secret,
            created_at=row.created_at,
            confirmed_at=row.confirmed_at,
            last_used_step=row.last_used_step,
        )

    async def put_pending_totp(self, user_id: uuid.UUID, sealed: bytes, *, now: datetime) -> bool:
        # a pending factor is replaced; an active one is kept (False)
        await self._session.execute(
            delete(TotpFactorRow).where(
                TotpFactorRow.user_id == user_id, TotpFactorRow.confirmed_at.is_(None)
            )
        )
        if await self._session.get(TotpFactorRow, user_id) is not None:
            return False
        self._session.add(TotpFactorRow(user_id=user_id, sealed_secret=sealed, created_at=now))
        await self._session.flush()
        return True

    async def activate_totp(
        self, user_id: uuid.UUID, sealed: bytes, *, now: datetime, step: int
    ) -> bool:
        # only the pending secret the code was checked against (not one that replaced it since)
        result = await self._session.execute(
            update(TotpFactorRow)
            .where(
                TotpFactorRow.user_id == user_id,
                TotpFactorRow.confirmed_at.is_(None),
                TotpFactorRow.sealed_secret == sealed,
            )
            .values(confirmed_at=now, last_used_step=step)
            .returning(TotpFactorRow.user_id)
        )
        return result.scalar_one_or_none() is not None

    async def use_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        result = await self._session.execute(
            update(TotpFactorRow)
            .where(
                TotpFactorRow.user_id == user_id,
                TotpFactorRow.confirmed_at.is_not(None),
                or_(TotpFactorRow.last_used_step.is_(None), TotpFactorRow.last_used_step < step),
            )
            .values(last_used_step=step)
            .returning(TotpFactorRow.user_id)
        )
        return result.scalar_one_or_none() is not None

    async def remove_pending_totp(self, user_id: uuid.UUID) -> bool:
        result = await self._session.execute(
            delete(TotpFactorRow)
            .where(TotpFactorRow.user_id == user_id, TotpFactorRow.confirmed_at.is_(None))
            .returning(TotpFactorRow.user_id)
        )
        return result.scalar_one_or_none() is not None

    async def remove_all(self, user_id: uuid.UUID) -> bool:
        result = await self._session.execute(
            delete(TotpFactorRow)
            .where(TotpFactorRow.user_id == user_id)
            .returning(TotpFactorRow.user_id)
        )
        removed = result.scalar_one_or_none() is not None
        await self._forget_recovery_codes(user_id)
        return removed

    async def replace_recovery_codes(
        self, user_id: uuid.UUID, code_hashes: Sequence[bytes], *, now: datetime
    ) -> None:
        await self._forget_recovery_codes(user_id)
        self._session.add_all(
            RecoveryCodeRow(code_hash=code_hash, user_id=user_id, created_at=now)
            for code_hash in code_hashes
        )
        await self._session.flush()

    async def _forget_recovery_codes(self, user_id: uuid.UUID) -> None:
        await self._session.execute(
            delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id)
        )

    async def use_recovery_code(
        self, user_id: uuid.UUID, code_hash: bytes, *, now: datetime
    ) -> bool:
        result = await self._session.execute(
            update(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.code_hash == code_hash,
                RecoveryCodeRow.user_id == user_id,
                RecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=now)
            .returning(RecoveryCodeRow.code_hash)
        )
        return result.scalar_one_or_none() is not None

    async def recovery_codes_left(self, user_id: uuid.UUID) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(RecoveryCodeRow)
            .where(RecoveryCodeRow.user_id == user_id, RecoveryCodeRow.used_at.is_(None))
        )
        return int(count or 0)

    async def add_challenge(self, challenge: MfaChallenge) -> None:
        self._session.add(
            MfaChallengeRow(
                token_hash=challenge.token_hash,
                user_id=challenge.user_id,
                client_id=challenge.client_id,
                created_at=challenge.created_at,
                expires_at=challenge.expires_at,
                failures=0,
            )
        )
        await self._session.flush()

    async def challenge(self, token_hash: bytes) -> MfaChallenge | None:
        row = await self._session.get(MfaChallengeRow, token_hash, populate_existing=True)
        if row is None:
            return None
        return MfaChallenge(
            token_hash=row.token_hash,
            user_id=row.user_id,
            client_id=row.client_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            failures=row.failures,
            used_at=row.used_at,
        )

    async def claim_attempt(self, token_hash: bytes, *, now: datetime) -> bool:
        # counted before the code is checked, in one statement that holds the row until commit:
        # parallel guesses on one token are serialised and the sixth finds the budget spent
        result = await self._session.execute(
            update(MfaChallengeRow)
            .where(
                MfaChallengeRow.token_hash == token_hash,
                MfaChallengeRow.used_at.is_(None),
                MfaChallengeRow.expires_at > now,
                MfaChallengeRow.failures < MFA_TOKEN_MAX_FAILURES,
            )
            .values(failures=MfaChallengeRow.failures + 1)
            .returning(MfaChallengeRow.token_hash)
        )
        return result.scalar_one_or_none() is not None

    async def use_challenge(self, token_hash: bytes, *, now: datetime) -> bool:
        result = await self._session.execute(
            update(MfaChallengeRow)
            .where(MfaChallengeRow.token_hash == token_hash, MfaChallengeRow.used_at.is_(None))
            .values(used_at=now)
            .returning(MfaChallengeRow.token_hash)
        )
        return result.scalar_one_or_none() is not None


async def prune_mfa_challenges(
    session_factory: async_sessionmaker[Any], *, expired_before: datetime
) -> int:
    """Delete the `mfa_token` records that expired before `expired_before`; how many."""
    async with session_factory() as session, session.begin():
        result = await session.execute(
            delete(MfaChallengeRow).where(MfaChallengeRow.expires_at < expired_before)
        )
    return int(result.rowcount)
