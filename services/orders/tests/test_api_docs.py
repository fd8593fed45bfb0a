"""orders' `/docs`: Swagger UI from orders itself, and an example order that orders places."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from orders_service.api import orders as orders_api
from orders_service.config import Settings
from orders_service.main import create_app
from tessera import KeySource
from tessera_dev.api_docs_checks import (
    documented_request_bodies,
    example_problems,
    served_docs_assets,
)
from tessera_dev.testing import ISSUER, IssueToken


@pytest.fixture
async def docs(tmp_path: Path, keys: KeySource) -> AsyncIterator[httpx.AsyncClient]:
    """The app, not started: its docs and OpenAPI need neither its database nor billing."""
    settings = Settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/orders.db", ISSUER=ISSUER)
    transport = httpx.ASGITransport(app=create_app(settings, keys=keys))
    async with httpx.AsyncClient(transport=transport, base_url="http://orders.test") as http:
        yield http


async def test_the_docs_page_loads_only_files_orders_serves(docs: httpx.AsyncClient) -> None:
    assert await served_docs_assets(docs)


async def test_every_request_body_has_an_example_that_its_schema_and_model_take(
    docs: httpx.AsyncClient,
) -> None:
    bodies = documented_request_bodies((await docs.get("/openapi.json")).json())

    assert [body.operation for body in bodies] == ["POST /v1/orders application/json"]
    assert await example_problems(docs, orders_api) == {}


@pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)
async def test_the_example_order_is_placed_in_euros(
    docs: httpx.AsyncClient, orders: httpx.AsyncClient, issue_token: IssueToken
) -> None:
    [body] = documented_request_bodies((await docs.get("/openapi.json")).json())
    headers = {"Authorization": f"Bearer {issue_token('alice')}"}

    placed = await orders.post("/v1/orders", json=body.examples[0], headers=headers)

    assert placed.status_code == 201, placed.text
    assert placed.json()["currency"] == "EUR"
    assert placed.json()["total_cents"] == 2 * 1250 + 1999
    assert [item["sku"] for item in placed.json()["items"]] == ["TESSERA-MUG", "TESSERA-TEE"]
