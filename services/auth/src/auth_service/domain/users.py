"""Users and their roles, as the rest of the domain sees them."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime


class Role(enum.StrEnum):
    """What a user may do beyond their own resources."""

    USER = "user"
    ADMIN = "admin"


def normalize_email(email: str) -> str:
    """The key emails are unique under: `Alice@Example.com` and `alice@example.com` are one user."""
    return email.strip().casefold()


@dataclass
class User:
    """An account. `token_version` is carried as `ver` in access tokens; bumping it revokes them."""

    id: uuid.UUID
    email: str
    password_hash: str = field(repr=False)
    roles: frozenset[Role]
    token_version: int
    created_at: datetime
    email_verified_at: datetime | None = None
    """When the user proved the address is theirs (a verification or reset link); None until."""

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None
