"""POST /v1/users: register, refuse taken emails in any case, explain bad input field by field."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import register  # noqa: TID252 (shared test helpers)


async def test_registering_answers_202_with_the_address_and_what_happens_next(
    client: httpx.AsyncClient,
) -> None:
    body = await register(client, "Ada@Example.com", "correct horse")

    # the domain part is normalised (it is case-insensitive); the local part is kept as typed
    assert body == {"email": "Ada@example.com", "status": "verification_sent"}


async def test_an_email_taken_in_another_case_gets_the_same_answer_as_a_new_one(
    client: httpx.AsyncClient,
) -> None:
    # Was 409 "an account with this email already exists": anyone could tell who has one.
    first = await client.post(
        "/v1/users", json={"email": "ada@example.com", "password": "pw12345678"}
    )
    again = await client.post(
        "/v1/users", json={"email": "ADA@example.COM", "password": "another one"}
    )

    assert (first.status_code, again.status_code) == (202, 202)
    assert set(first.json()) == set(again.json()) == {"email", "status"}
    assert again.json()["status"] == first.json()["status"] == "verification_sent"
    assert first.headers.keys() == again.headers.keys()


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
