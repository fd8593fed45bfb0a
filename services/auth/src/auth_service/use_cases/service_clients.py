"""Service clients by hand and by configuration: register one, rotate its secret, provision.

`provision` runs at every start of every replica with the clients named in the settings
(`adapters/client_settings.py`); `create`, `rotate` and `list` are the operator's
`python -m auth_service clients ...` commands. Secrets are shown once and stored only hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from auth_service.domain.service_clients import (
    ClientAlreadyExistsError,
    ClientPermissions,
    ServiceClient,
    ServiceClientRepository,
    generate_client_secret,
    hash_client_secret,
    secret_matches,
    validate_client_id,
)


@dataclass
class ServiceClients:
    """The registered confidential clients (orders, billing, ...)."""

    repository: ServiceClientRepository
    clock: Callable[[], datetime]

    async def registered(self) -> Sequence[ServiceClient]:
        """Every registered client, by id."""
        return await self.repository.list()

    async def create(
        self, client_id: str, permissions: ClientPermissions, *, secret: str | None = None
    ) -> tuple[ServiceClient, str]:
        """Register a client; returns it and its secret (generated unless given).

        ValueError for a malformed id, `ClientAlreadyExistsError` if the id is taken.
        """
        secret = secret or generate_client_secret()
        now = self.clock()
        client = ServiceClient(
            client_id=validate_client_id(client_id),
            secret_hash=hash_client_secret(secret),
            permissions=permissions,
            created_at=now,
            rotated_at=now,
        )
        if not await self.repository.add(client):
            raise ClientAlreadyExistsError(f"client {client_id!r} already exists")
        return client, secret

    async def rotate(self, client_id: str) -> tuple[ServiceClient, str]:
        """A new secret (the old one stops working at once); LookupError for an unknown client."""
        client = await self.repository.get(client_id)
        if client is None:
            raise LookupError(f"no client {client_id!r}")
        secret = generate_client_secret()
        rotated = ServiceClient(
            client_id=client.client_id,
            secret_hash=hash_client_secret(secret),
            permissions=client.permissions,
            created_at=client.created_at,
            rotated_at=self.clock(),
        )
        await self.repository.update(rotated)
        return rotated, secret

    async def provision(
        self,
        secrets_by_client: Mapping[str, str],
        permissions_by_client: Mapping[str, ClientPermissions],
    ) -> list[str]:
        """Make the stored clients match the configured ones; returns the ids created or changed.

        A configured secret that differs from the stored one replaces it (a rotation by
        redeploy); permissions always follow the settings. Clients not in the settings are left
        alone (they were created with the CLI). Safe to run on every start of every replica.
        """
        changed = []
        now = self.clock()
        for client_id, secret in sorted(secrets_by_client.items()):
            permissions = permissions_by_client.get(client_id, ClientPermissions())
            existing = await self.repository.get(client_id)
            if existing is None:
                try:
                    await self.create(client_id, permissions, secret=secret)
                except ClientAlreadyExistsError:
                    existing = await self.repository.get(client_id)  # another replica, just now
                else:
                    changed.append(client_id)
                    continue
            assert existing is not None
            same_secret = secret_matches(existing.secret_hash, secret)
            if same_secret and existing.permissions == permissions:
                continue
            await self.repository.update(
                ServiceClient(
                    client_id=client_id,
                    secret_hash=existing.secret_hash if same_secret else hash_client_secret(secret),
                    permissions=permissions,
                    created_at=existing.created_at,
                    rotated_at=existing.rotated_at if same_secret else now,
                )
            )
            changed.append(client_id)
        return changed
