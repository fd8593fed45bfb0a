"""billing's `/docs`: Swagger UI from billing itself; any request body it grows has an example."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from billing_service.api import invoices as invoices_api
from billing_service.config import Settings
from billing_service.main import create_app
from tessera import KeySource
from tessera_dev.api_docs_checks import (
    example_problems,
    served_docs_assets,
)
from tessera_dev.testing import ISSUER


@pytest.fixture
async def docs(tmp_path: Path, keys: KeySource) -> AsyncIterator[httpx.AsyncClient]:
    """The app, not started: its docs and OpenAPI need neither its database nor gRPC."""
    settings = Settings(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/billing.db", GRPC_PORT=0, ISSUER=ISSUER
    )
    transport = httpx.ASGITransport(app=create_app(settings, keys=keys))
    async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
        yield http


async def test_the_docs_page_loads_only_files_billing_serves(docs: httpx.AsyncClient) -> None:
    assert await served_docs_assets(docs)


async def test_every_request_body_has_an_example_that_its_schema_and_model_take(
    docs: httpx.AsyncClient,
) -> None:
    # none today (clients only read invoices; charges come over gRPC): a new one needs one
    assert await example_problems(docs, invoices_api) == {}


async def test_the_invoice_routes_declare_the_bearer_scheme_for_try_it_out(
    docs: httpx.AsyncClient,
) -> None:
    document = (await docs.get("/openapi.json")).json()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path in ("/v1/invoices", "/v1/invoices/{invoice_id}"):
        assert document["paths"][path]["get"]["security"] == [{"HTTPBearer": []}]
