"""Passkeys and their ceremonies in SQL, behind the domain's `PasskeyRepository`.

A ceremony's challenge is taken with one conditional UPDATE (unused, alive, of the purpose),
so of two answers to one challenge exactly one is checked; a passkey's counter moves with one
conditional UPDATE from the value that was checked, so two sign-ins racing with one counter
value cannot both be accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.adapters.models import PasskeyRow, WebAuthnCeremonyRow
from auth_service.domain.passkeys import Ceremony, CeremonyPurpose, Passkey


def _passkey(row: PasskeyRow) -> Passkey:
    return Passkey(
        id=row.id,
        user_id=row.user_id,
        credential_id=row.credential_id,
        public_key=row.public_key,
        sign_count=row.sign_count,
        name=row.name,
        synced=row.synced,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        flagged_at=row.flagged_at,
    )


class SqlPasskeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, passkey: Passkey) -> None:
        self._session.add(
            PasskeyRow(
                id=passkey.id,
                user_id=passkey.user_id,
                credential_id=passkey.credential_id,
                public_key=passkey.public_key,
                sign_count=passkey.sign_count,
                name=passkey.name,
                synced=passkey.synced,
                created_at=passkey.created_at,
            )
        )
        await self._session.flush()

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[Passkey]:
        rows = await self._session.scalars(
            select(PasskeyRow).where(PasskeyRow.user_id == user_id).order_by(PasskeyRow.created_at)
        )
        return [_passkey(row) for row in rows]

    async def by_credential_id(self, credential_id: bytes) -> Passkey | None:
        row = await self._session.scalar(
            select(PasskeyRow).where(PasskeyRow.credential_id == credential_id)
        )
        return None if row is None else _passkey(row)

    async def record_use(self, passkey: Passkey, *, sign_count: int, now: datetime) -> bool:
        result = await self._session.execute(
            update(PasskeyRow)
            .where(PasskeyRow.id == passkey.id, PasskeyRow.sign_count == passkey.sign_count)
            .values(sign_count=sign_count, last_used_at=now)
            .returning(PasskeyRow.id)
        )
        return result.scalar_one_or_none() is not None

    async def flag(self, passkey_id: uuid.UUID, *, now: datetime) -> None:
        await self._session.execute(
            update(PasskeyRow)
            .where(PasskeyRow.id == passkey_id, PasskeyRow.flagged_at.is_(None))
            .values(flagged_at=now)
        )

    async def remove(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool:
        result = await self._session.execute(
            delete(PasskeyRow)
            .where(PasskeyRow.id == passkey_id, PasskeyRow.user_id == user_id)
            .returning(PasskeyRow.id)
        )
        return result.scalar_one_or_none() is not None

    async def add_ceremony(self, ceremony: Ceremony) -> None:
        self._session.add(
            WebAuthnCeremonyRow(
                id=ceremony.id,
                challenge=ceremony.challenge,
                purpose=ceremony.purpose.value,
                user_id=ceremony.user_id,
                session_id=ceremony.session_id,
                mfa_token_hash=ceremony.mfa_token_hash,
                created_at=ceremony.created_at,
                expires_at=ceremony.expires_at,
            )
        )
        await self._session.flush()

    async def take_ceremony(
        self, ceremony_id: str, purpose: CeremonyPurpose, *, now: datetime
    ) -> Ceremony | None:
        row = (
            await self._session.execute(
                update(WebAuthnCeremonyRow)
                .where(
                    WebAuthnCeremonyRow.id == ceremony_id,
                    WebAuthnCeremonyRow.purpose == purpose.value,
                    WebAuthnCeremonyRow.used_at.is_(None),
                    WebAuthnCeremonyRow.expires_at > now,
                )
                .values(used_at=now)
                .returning(
                    WebAuthnCeremonyRow.id,
                    WebAuthnCeremonyRow.challenge,
                    WebAuthnCeremonyRow.user_id,
                    WebAuthnCeremonyRow.session_id,
                    WebAuthnCeremonyRow.mfa_token_hash,
                    WebAuthnCeremonyRow.created_at,
                    WebAuthnCeremonyRow.expires_at,
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return Ceremony(
            id=row.id,
            challenge=row.challenge,
            purpose=purpose,
            created_at=row.created_at,
            expires_at=row.expires_at,
            user_id=row.user_id,
            session_id=row.session_id,
            mfa_token_hash=row.mfa_token_hash,
        )


async def prune_ceremonies(
    session_factory: async_sessionmaker[Any], *, expired_before: datetime
) -> int:
    """Delete the ceremonies that expired before `expired_before`; how many."""
    async with session_factory() as session, session.begin():
        result = await session.execute(
            delete(WebAuthnCeremonyRow).where(WebAuthnCeremonyRow.expires_at < expired_before)
        )
    return int(result.rowcount)
