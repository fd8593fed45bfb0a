"""POST /v1/users: register, refuse taken emails in any case, explain bad input field by field."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest

from ..conftest import register  # noqa: TID252 (shared test helpers)


async def test_registering_returns_the_new_user(client: httpx.AsyncClient) -> None:
    body = await register(client, "Ada@Example.com", "correct horse")

    assert set(body) == {"id", "email", "roles", "created_at"}
    uuid.UUID(str(body["id"]))
    datetime.fromisoformat(str(body["created_at"]))
    # the domain part is normalised (it is case-insensitive); the local part is kept as typed
    assert (body["email"], body["roles"]) == ("Ada@example.com", ["user"])


async def test_an_email_taken_in_another_case_is_a_409_problem(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com", "correct horse")
    response = await client.post(
        "/v1/users", json={"email": "ADA@example.COM", "password": "another one"}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": "long enough"}, "email"),
        ({"email": "ada@example.com", "password": "short"}, "password"),
        ({"email": "ada@example.com", "password": "x" * 1025}, "password"),
        ({"email": "ada@example.com"}, "password"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    client: httpx.AsyncClient, payload: dict[str, str], field: str
) -> None:
    response = await client.post("/v1/users", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["loc"][-1] for error in response.json()["errors"]] == [field]
