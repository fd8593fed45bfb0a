"""Fixtures: billing migrated and running in-process, over HTTP and over a gRPC channel.

Nothing is mocked: the app runs its real lifespan (gRPC server on 127.0.0.1:0, TokenVerifier);
only the key source is the test key of `tessera_dev.testing` (which also signs the tokens and
gives `database_url`, a fresh SQLite file and a fresh PostgreSQL database) instead of auth's JWKS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from billing_service.adapters.migrations import MIGRATIONS
from billing_service.config import Settings
from billing_service.main import create_app
from fastapi import FastAPI
from tessera import KeySource
from tessera.billing.v1 import billing_pb2_grpc
from tessera_dev.testing import ISSUER


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/billing.db"
    await MIGRATIONS.upgrade(url)
    return url


async def _running_billing(database_url: str, keys: KeySource) -> AsyncIterator[FastAPI]:
    await MIGRATIONS.upgrade(database_url)
    settings = Settings(DATABASE_URL=database_url, GRPC_PORT=0, ISSUER=ISSUER)
    app = create_app(settings, keys=keys)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def billing_app(database_url: str, keys: KeySource) -> AsyncIterator[FastAPI]:
    """billing, migrated and running (HTTP app + gRPC server), on each database."""
    async for app in _running_billing(database_url, keys):
        yield app


@pytest.fixture
async def billing_on_sqlite(tmp_path: Path, keys: KeySource) -> AsyncIterator[FastAPI]:
    """billing running on SQLite only, for the gRPC behaviour tests."""
    async for app in _running_billing(f"sqlite+aiosqlite:///{tmp_path}/billing.db", keys):
        yield app


@pytest.fixture
async def http(billing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=billing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as client:
        yield client


@pytest.fixture
async def billing_stub(billing_on_sqlite: FastAPI) -> AsyncIterator[Any]:
    """A BillingService stub over a real loopback channel to the running server."""
    port = billing_on_sqlite.state.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield billing_pb2_grpc.BillingServiceStub(channel)
