"""argon2id hashing: verification, the dummy path, and rehash on changed parameters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher

CHEAP = Argon2Parameters(time_cost=1, memory_kib=1024, parallelism=1)


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    hasher = PasswordHasher(CHEAP, workers=1)
    yield hasher
    hasher.close()


async def test_hashes_are_argon2id_and_verify_only_the_right_password(
    hasher: PasswordHasher,
) -> None:
    password_hash = await hasher.hash("correct horse")
    assert password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash
    assert (await hasher.verify(password_hash, "correct horse")).matches
    assert not (await hasher.verify(password_hash, "correct horsf")).matches


async def test_a_malformed_hash_is_a_mismatch_not_a_crash(hasher: PasswordHasher) -> None:
    assert not (await hasher.verify("not-a-hash", "whatever")).matches


async def test_a_hash_made_with_other_parameters_needs_rehash(hasher: PasswordHasher) -> None:
    stronger = PasswordHasher(Argon2Parameters(time_cost=2, memory_kib=2048, parallelism=1))
    try:
        old_hash = await hasher.hash("pw-123456")
        check = await stronger.verify(old_hash, "pw-123456")
        assert check.matches
        assert check.needs_rehash
        assert not (
            await stronger.verify(await stronger.hash("pw-123456"), "pw-123456")
        ).needs_rehash
    finally:
        stronger.close()
