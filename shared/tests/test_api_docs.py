"""`/docs` of a service app: Swagger UI from the service itself, under a CSP without inline code."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from tessera.http.api_docs import DOCS_CSP
from tessera.http.app import create_service_app
from tessera.settings import ServiceSettings
from tessera_dev.api_docs_checks import documented_request_bodies, models_of, page_assets

SWAGGER_UI_FILES = [
    "/docs/favicon-32x32.png",
    "/docs/swagger-ui.css",
    "/docs/swagger-ui-bundle.js",
    "/docs/swagger-initializer.js",
]


class Refill(BaseModel):
    """A body whose example its own model refuses (a quantity of 0)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"sku": "TEA", "quantity": 0}]})

    sku: str
    quantity: int = Field(ge=1)


def service_app() -> FastAPI:
    app = create_service_app("orders", ServiceSettings(DATABASE_URL="sqlite://", HTTP_PORT=0))

    @app.post("/v1/refills")
    async def refill(body: Refill) -> Refill:
        return body

    return app


@asynccontextmanager
async def client_of(app: FastAPI, root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as http:
        yield http


@pytest.fixture
async def orders() -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(service_app()) as http:
        yield http


async def test_the_docs_page_loads_swagger_ui_from_the_service_alone(
    orders: httpx.AsyncClient,
) -> None:
    page = await orders.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page_assets(page.text) == SWAGGER_UI_FILES
    assert 'data-openapi-url="/openapi.json"' in page.text


async def test_the_docs_page_allows_only_its_own_scripts_styles_and_calls(
    orders: httpx.AsyncClient,
) -> None:
    page = await orders.get("/docs")

    assert page.headers["content-security-policy"] == DOCS_CSP
    assert "script-src 'self';" in DOCS_CSP
    assert "connect-src 'self';" in DOCS_CSP
    assert "unsafe" not in DOCS_CSP
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("url", "media_type", "holding"),
    [
        ("/docs/swagger-ui-bundle.js", "text/javascript", b"SwaggerUIBundle"),
        ("/docs/swagger-ui.css", "text/css", b".swagger-ui"),
        ("/docs/favicon-32x32.png", "image/png", b"\x89PNG"),
        ("/docs/swagger-initializer.js", "text/javascript", b"SwaggerUIBundle({"),
    ],
)
async def test_every_file_the_page_loads_is_served(
    orders: httpx.AsyncClient, url: str, media_type: str, holding: bytes
) -> None:
    answer = await orders.get(url)

    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == media_type
    assert holding in answer.content
    assert answer.headers["cache-control"] == "no-cache"
    assert "etag" in answer.headers  # a reload revalidates: 304, not the 1.7 MB bundle again


async def test_a_file_swagger_ui_does_not_need_is_not_served(orders: httpx.AsyncClient) -> None:
    # the package's __init__.py lies beside Swagger UI's files: only the listed ones are served
    for url in ("/docs/__init__.py", "/docs/index.html", "/docs/oauth2-redirect"):
        answer = await orders.get(url)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"


async def test_there_is_no_redoc_page_from_a_cdn(orders: httpx.AsyncClient) -> None:
    assert (await orders.get("/redoc")).status_code == 404


async def test_behind_a_path_prefix_the_page_names_its_files_under_it() -> None:
    async with client_of(service_app(), root_path="/orders") as http:
        page = await http.get("/docs")

        assert page_assets(page.text) == [f"/orders{url}" for url in SWAGGER_UI_FILES]
        assert 'data-openapi-url="/orders/openapi.json"' in page.text


async def test_an_example_its_model_refuses_is_reported(orders: httpx.AsyncClient) -> None:
    document = (await orders.get("/openapi.json")).json()

    [body] = documented_request_bodies(document)
    refusals = body.refusals(models_of(sys.modules[__name__]))

    assert body.operation == "POST /v1/refills application/json"
    assert body.examples == [{"sku": "TEA", "quantity": 0}]
    assert [refusal.split(":")[0] for refusal in refusals] == ["schema", "model"]


def test_an_inline_script_is_listed_among_a_pages_assets() -> None:
    html = '<script src="/a.js"></script><script>alert(1)</script><link href="//cdn/x.css">'

    assert page_assets(html) == ["/a.js", "inline script", "//cdn/x.css"]
