"""The signing key: created once, sealed under the KEK, and never twice active."""

from __future__ import annotations

import asyncio
import base64
import secrets
import stat
from pathlib import Path

import pytest
from auth_service.adapters.database import create_engine, create_session_factory
from auth_service.adapters.key_encryption import KeyWrapper, load_key_encryption_key
from auth_service.adapters.models import SigningKeyRow
from auth_service.adapters.signing_key_store import SigningKeyStore
from auth_service.config import DEV_KEY_ENCRYPTION_KEY_FILE, Settings
from auth_service.domain.keys import KeyRing
from auth_service.errors import KeyEncryptionKeyError
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select


async def load_ring(database_url: str, kek: bytes) -> KeyRing:
    engine = create_engine(database_url)
    try:
        store = SigningKeyStore(create_session_factory(engine), KeyWrapper(kek))
        return await store.load_key_ring()
    finally:
        await engine.dispose()


async def stored_rows(database_url: str) -> list[SigningKeyRow]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return list((await session.execute(select(SigningKeyRow))).scalars())
    finally:
        await engine.dispose()


async def test_two_replicas_starting_at_once_end_up_with_one_active_key(
    database_url: str,
) -> None:
    kek = secrets.token_bytes(32)
    rings = await asyncio.gather(*(load_ring(database_url, kek) for _ in range(3)))

    assert len({ring.signing_key.kid for ring in rings}) == 1
    rows = await stored_rows(database_url)
    assert [row.state for row in rows] == ["active"]


async def test_a_restart_signs_with_the_stored_key(database_url: str) -> None:
    kek = secrets.token_bytes(32)
    first = await load_ring(database_url, kek)
    second = await load_ring(database_url, kek)
    assert second.signing_key.kid == first.signing_key.kid
    assert second.jwks() == first.jwks()


async def test_the_private_key_is_stored_sealed_and_opens_only_with_the_kek(
    database_url: str,
) -> None:
    ring = await load_ring(database_url, secrets.token_bytes(32))
    (row,) = await stored_rows(database_url)
    plain_der = ring.signing_key.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert plain_der not in row.encrypted_private_key
    assert row.public_jwk == {k: v for k, v in ring.jwks()["keys"][0].items() if k in "kty n e"}

    with pytest.raises(KeyEncryptionKeyError):
        await load_ring(database_url, secrets.token_bytes(32))


def test_dev_mode_generates_a_private_key_encryption_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = load_key_encryption_key(Settings())
    path = tmp_path / DEV_KEY_ENCRYPTION_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_encryption_key(Settings()) == first
    assert len(first) == 32


def test_a_configured_key_file_is_used_and_a_malformed_one_refused(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    good = tmp_path / "kek"
    good.write_text(base64.b64encode(key).decode())
    assert load_key_encryption_key(Settings(KEY_ENCRYPTION_KEY_FILE=good)) == key

    bad = tmp_path / "bad-kek"
    bad.write_text("c2hvcnQ=")
    with pytest.raises(KeyEncryptionKeyError):
        load_key_encryption_key(Settings(KEY_ENCRYPTION_KEY_FILE=bad))
