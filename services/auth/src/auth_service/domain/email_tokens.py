"""The secrets mailed to a user: email verification and password reset (DESIGN §11).

    token   = prefix + base64url(32 random bytes)    "tsv_" verify an address, "tsp_" reset
    stored  = SHA-256(token)                          (never the token itself)

Each is single use (a conditional UPDATE consumes it), short-lived (24 h to verify, 30 min to
reset), and dies when a newer one of its purpose is issued for the same user. A token that is
unknown, used, expired or malformed is refused with one text that does not say which.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 64


class EmailTokenPurpose(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a name, not a password)

    @property
    def prefix(self) -> str:
        return {"verify_email": "tsv_", "password_reset": "tsp_"}[self.value]

    @property
    def lifetime(self) -> timedelta:
        if self is EmailTokenPurpose.VERIFY_EMAIL:
            return timedelta(hours=24)
        return timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class EmailToken:
    """A stored token: its hash, whose it is, what for, and until when."""

    token_hash: bytes
    user_id: uuid.UUID
    purpose: EmailTokenPurpose
    created_at: datetime
    expires_at: datetime


def issue_email_token(
    purpose: EmailTokenPurpose, user_id: uuid.UUID, *, now: datetime
) -> tuple[str, EmailToken]:
    """A new token (to mail) and its record (to store)."""
    token = purpose.prefix + secrets.token_urlsafe(TOKEN_BYTES)
    record = EmailToken(hash_email_token(token), user_id, purpose, now, now + purpose.lifetime)
    return token, record


def hash_email_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def looks_like_email_token(token: str, purpose: EmailTokenPurpose) -> bool:
    """Cheap shape check before any database work."""
    return token.startswith(purpose.prefix) and len(token) <= MAX_TOKEN_LENGTH
