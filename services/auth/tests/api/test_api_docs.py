"""auth's `/docs`: Swagger UI from auth itself, and examples one account can follow in order."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from auth_service.api import schemas
from tessera_dev.api_docs_checks import (
    documented_request_bodies,
    example_problems,
    served_docs_assets,
)

pytestmark = pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)


async def examples_by_operation(client: httpx.AsyncClient) -> dict[str, Any]:
    """The first example of each JSON body, by `METHOD /path`: what "Try it out" sends."""
    bodies = documented_request_bodies((await client.get("/openapi.json")).json())
    return {
        body.operation.removesuffix(" application/json"): body.examples[0]
        for body in bodies
        if body.operation.endswith("application/json")
    }


async def test_the_docs_page_loads_only_files_auth_serves(client: httpx.AsyncClient) -> None:
    assert await served_docs_assets(client)


async def test_every_request_body_has_an_example_that_its_schema_and_model_take(
    client: httpx.AsyncClient,
) -> None:
    bodies = documented_request_bodies((await client.get("/openapi.json")).json())

    assert {
        "POST /v1/users application/json",
        "POST /v1/auth/token application/x-www-form-urlencoded",  # no model: its own parser
        "POST /v1/auth/passkey/options application/json",  # an optional body
    } <= {body.operation for body in bodies}
    assert await example_problems(client, schemas) == {}


async def test_the_examples_register_sign_in_step_up_and_change_the_password(
    client: httpx.AsyncClient,
) -> None:
    example = await examples_by_operation(client)

    registered = await client.post("/v1/users", json=example["POST /v1/users"])
    signed_in = await client.post("/v1/auth/login", json=example["POST /v1/auth/login"])
    bearer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    stepped_up = await client.post(
        "/v1/auth/step-up", json=example["POST /v1/auth/step-up"], headers=bearer
    )
    changed = await client.post(
        "/v1/users/me/password", json=example["POST /v1/users/me/password"], headers=bearer
    )

    assert registered.status_code == 202, registered.text
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["refresh_token"].startswith("tsr_")  # mobile: both tokens
    assert stepped_up.status_code == 200, stepped_up.text
    assert changed.status_code == 204, changed.text


async def test_the_routes_taking_an_optional_bearer_token_declare_the_scheme(
    client: httpx.AsyncClient,
) -> None:
    # /docs fills the bearer scheme, never a header parameter named Authorization
    paths = (await client.get("/openapi.json")).json()["paths"]

    for path in ("/v1/auth/logout", "/v1/auth/passkey/options"):
        assert paths[path]["post"]["security"] == [{"HTTPBearer": []}]
        assert "parameters" not in paths[path]["post"]
