"""Service clients: confidential OAuth clients (orders, billing, ...) that authenticate to auth.

A client has an id, a hashed secret and what it may do (grants, and the audiences and scopes of its
own client_credentials tokens). Secrets are high-entropy random strings we generate (or an
operator provisions), so a salted SHA-256 is enough (no password stretching needed) and keeps
client authentication in microseconds; it is compared in constant time, and an unknown client id
costs the same hash as a wrong secret.

    secret  = "tsc_" + base64url(32 random bytes)
    stored  = "sha256$" + base64url(salt) + "$" + base64url(sha256(salt || secret))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from auth_service.errors import InvalidClientError

SECRET_PREFIX = "tsc_"  # noqa: S105 (a recognisable prefix for secret scanners, not a secret)
HASH_SCHEME = "sha256"
MIN_PRODUCTION_SECRET_LENGTH = 32
CLIENT_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{1,63}$")


class ClientAlreadyExistsError(ValueError):
    """Raised when creating a client whose id is taken."""


@dataclass(frozen=True)
class ClientPermissions:
    """What a client may do: grant types, and the audiences and scopes of its service tokens."""

    grants: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceClient:
    """A registered confidential client."""

    client_id: str
    secret_hash: str = field(repr=False)
    permissions: ClientPermissions
    created_at: datetime
    rotated_at: datetime

    def may_use(self, grant_type: str) -> bool:
        return grant_type in self.permissions.grants


class ServiceClientRepository(Protocol):
    async def get(self, client_id: str) -> ServiceClient | None: ...

    async def list(self) -> Sequence[ServiceClient]: ...

    async def add(self, client: ServiceClient) -> bool:
        """Store a new client; False (and nothing stored) if the id exists."""
        ...

    async def update(self, client: ServiceClient) -> bool:
        """Replace secret hash, permissions and rotated_at; False if there is no such client."""
        ...


def validate_client_id(client_id: str) -> str:
    if not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise ValueError(
            f"client id {client_id!r} must be 2-64 characters of a-z, 0-9, '-', '_' "
            "starting with a letter"
        )
    return client_id


def generate_client_secret() -> str:
    """A fresh secret: 256 random bits, shown once and stored only hashed."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8")).digest()


def hash_client_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    return f"{HASH_SCHEME}${_b64(salt)}${_b64(_digest(salt, secret))}"


def secret_matches(secret_hash: str, secret: str) -> bool:
    """Whether `secret` is the one hashed, compared in constant time."""
    scheme, _, rest = secret_hash.partition("$")
    salt_text, _, digest_text = rest.partition("$")
    if scheme != HASH_SCHEME or not salt_text or not digest_text:
        return False
    return hmac.compare_digest(_digest(_unb64(salt_text), secret), _unb64(digest_text))


# Compared against when the client id is unknown, so timing does not reveal which ids exist.
_UNKNOWN_CLIENT_HASH = hash_client_secret(generate_client_secret())


async def authenticate_client(
    clients: ServiceClientRepository, client_id: str, secret: str
) -> ServiceClient:
    """The client these credentials belong to; `InvalidClientError` for any mismatch."""
    client = await clients.get(client_id)
    matches = secret_matches(
        client.secret_hash if client is not None else _UNKNOWN_CLIENT_HASH, secret
    )
    if client is None or not matches:
        raise InvalidClientError("client authentication failed")
    return client
