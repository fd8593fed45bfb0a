"""argon2id password hashing, run off the event loop.

Hashing is deliberately slow and memory-hungry, so it runs in a small dedicated thread pool (its
size bounds the memory argon2 can take at once) instead of blocking the event loop or flooding the
default executor. `verify_against_dummy` lets login spend the same work on an unknown email as on a
wrong password, so response times do not reveal which accounts exist.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")


@dataclass(frozen=True)
class Argon2Parameters:
    """The cost parameters; changing them makes existing hashes report `needs_rehash`."""

    time_cost: int = 3
    memory_kib: int = 65_536
    parallelism: int = 4


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of a verification: whether it matched, and whether the hash is outdated."""

    matches: bool
    needs_rehash: bool = False


class PasswordHasher:
    """Hashes and verifies passwords with argon2id in a bounded thread pool."""

    def __init__(self, parameters: Argon2Parameters, *, workers: int = 2) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await self._run(self._argon2.hash, password)

    async def verify(self, password_hash: str, password: str) -> PasswordCheck:
        return await self._run(self._verify_sync, password_hash, password)

    async def warm_up(self) -> None:
        """Make the dummy hash at start-up, so no login pays for it (and stands out in timing)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))

    async def verify_against_dummy(self, password: str) -> None:
        """Do the work of a verification that cannot succeed (for unknown accounts)."""
        await self.warm_up()
        assert self._dummy_hash is not None
        await self.verify(self._dummy_hash, password)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _verify_sync(self, password_hash: str, password: str) -> PasswordCheck:
        try:
            self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, InvalidHashError, VerificationError):
            return PasswordCheck(matches=False)
        return PasswordCheck(
            matches=True, needs_rehash=self._argon2.check_needs_rehash(password_hash)
        )

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
