"""Signing keys in the database: create the first one, load them into a `KeyRing`.

Two replicas starting together may both find no active key and both generate one; the partial
unique index on `state = 'active'` lets exactly one insert win, and the loser loads the winner's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from auth_service.adapters.key_encryption import KeyWrapper
from auth_service.adapters.models import SigningKeyRow
from auth_service.domain.keys import (
    ALGORITHM,
    KeyRing,
    KeyState,
    PublishedKey,
    SigningKey,
    generate_signing_key,
    public_key_from_jwk,
    rsa_public_jwk,
)
from auth_service.errors import KeyStoreError


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SigningKeyStore:
    def __init__(
        self,
        session_factory: async_sessionmaker[Any],
        wrapper: KeyWrapper,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._session_factory = session_factory
        self._wrapper = wrapper
        self._clock = clock

    async def load_key_ring(self) -> KeyRing:
        """The ring of every published key, creating the first active key if there is none."""
        signing_key = await self._active_key()
        if signing_key is None:
            await self._create_active_key()
            signing_key = await self._active_key()
        if signing_key is None:
            raise KeyStoreError("no active signing key after creating one")
        return KeyRing(signing_key, await self._published_keys())

    async def _active_key(self) -> SigningKey | None:
        async with self._session_factory() as session:
            query = select(SigningKeyRow).where(SigningKeyRow.state == KeyState.ACTIVE.value)
            row = (await session.execute(query)).scalar_one_or_none()
        if row is None:
            return None
        der = self._wrapper.open(row.kid, row.encrypted_private_key)
        private_key = serialization.load_der_private_key(der, password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise KeyStoreError(f"signing key {row.kid} is not an RSA key")
        return SigningKey(kid=row.kid, private_key=private_key)

    async def _published_keys(self) -> list[PublishedKey]:
        async with self._session_factory() as session:
            rows = (await session.execute(select(SigningKeyRow))).scalars().all()
        return [
            PublishedKey(row.kid, public_key_from_jwk(row.public_jwk), KeyState(row.state))
            for row in rows
        ]

    async def _create_active_key(self) -> None:
        key = await asyncio.to_thread(generate_signing_key)
        der = key.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        now = self._clock()
        row = SigningKeyRow(
            kid=key.kid,
            alg=ALGORITHM,
            state=KeyState.ACTIVE.value,
            public_jwk=rsa_public_jwk(key.private_key.public_key()),
            encrypted_private_key=self._wrapper.seal(key.kid, der),
            created_at=now,
            activated_at=now,
        )
        async with self._session_factory() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()  # another replica's key won; the caller reloads it
