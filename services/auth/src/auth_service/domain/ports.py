"""What the domain needs from storage, as Protocols the adapters implement.

One `UnitOfWork` is one database transaction: everything a use case changes through its
repositories commits together or not at all (sessions, audit records and revocation events will
join `users` here and share the transaction).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from auth_service.domain.users import Role, User


class UserRepository(Protocol):
    async def get(self, user_id: uuid.UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None:
        """Find a user by email, ignoring case."""
        ...

    async def add(self, user: User) -> None:
        """Store a new user; raises `EmailAlreadyRegisteredError` if the email is taken."""
        ...

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None: ...

    async def set_roles(self, user_id: uuid.UUID, roles: frozenset[Role]) -> int:
        """Replace the roles and bump the token version (old tokens carry old roles); returns it."""
        ...


class UnitOfWork(Protocol):
    @property
    def users(self) -> UserRepository: ...

    async def commit(self) -> None: ...
