"""Service clients in SQL (`service_clients`), behind the domain's `ServiceClientRepository`.

`ServiceClientStore` opens its own short transaction per call: client authentication and the CLI
need nothing else in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from tessera.storage import entity_from_row

from auth_service.adapters.models import ServiceClientRow
from auth_service.domain.service_clients import ClientPermissions, ServiceClient


def _to_client(row: ServiceClientRow) -> ServiceClient:
    permissions = ClientPermissions(
        tuple(row.allowed_grants), tuple(row.allowed_audiences), tuple(row.allowed_scopes)
    )
    return entity_from_row(ServiceClient, row, permissions=permissions)


def _columns(client: ServiceClient) -> dict[str, Any]:
    return {
        "secret_hash": client.secret_hash,
        "allowed_grants": list(client.permissions.grants),
        "allowed_audiences": list(client.permissions.audiences),
        "allowed_scopes": list(client.permissions.scopes),
        "rotated_at": client.rotated_at,
    }


class ServiceClientStore:
    """The `ServiceClientRepository` over a session factory."""

    def __init__(self, session_factory: async_sessionmaker[Any]) -> None:
        self._session_factory = session_factory

    async def get(self, client_id: str) -> ServiceClient | None:
        async with self._session_factory() as session:
            row = await session.get(ServiceClientRow, client_id)
            return _to_client(row) if row is not None else None

    async def list(self) -> Sequence[ServiceClient]:
        async with self._session_factory() as session:
            rows = await session.scalars(
                select(ServiceClientRow).order_by(ServiceClientRow.client_id)
            )
            return [_to_client(row) for row in rows]

    async def add(self, client: ServiceClient) -> bool:
        async with self._session_factory() as session:
            session.add(
                ServiceClientRow(
                    client_id=client.client_id, created_at=client.created_at, **_columns(client)
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                return False
            return True

    async def update(self, client: ServiceClient) -> bool:
        async with self._session_factory() as session:
            result = await session.execute(
                update(ServiceClientRow)
                .where(ServiceClientRow.client_id == client.client_id)
                .values(**_columns(client))
            )
            await session.commit()
            return bool(result.rowcount)
