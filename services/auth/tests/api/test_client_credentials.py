"""POST /v1/auth/token grant_type=client_credentials: a service's own narrowly scoped token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from auth_service.config import Settings

from ..service_helpers import (  # noqa: TID252 (shared test helpers)
    BILLING_SECRET,
    ORDERS_SECRET,
    basic,
    claims_of,
    running_auth,
    with_service_clients,
)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_auth(with_service_clients(settings)) as auth:
        yield auth.http


async def ask(http: httpx.AsyncClient, headers: dict[str, str], **form: str) -> httpx.Response:
    return await http.post(
        "/v1/auth/token", data={"grant_type": "client_credentials", **form}, headers=headers
    )


async def test_http_basic_client_gets_a_service_token_naming_itself(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    response = await ask(
        http, basic("orders", ORDERS_SECRET), audience="auth", scope="revocations:read"
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        settings.ACCESS_TOKEN_TTL_SECONDS,
        "revocations:read",
    )
    claims = claims_of(body["access_token"])
    assert (claims["sub"], claims["client_id"], claims["aud"]) == ("orders", "orders", ["auth"])
    assert claims["scope"] == "revocations:read"
    assert "sid" not in claims
    assert "act" not in claims
    assert claims["exp"] - claims["iat"] == settings.ACCESS_TOKEN_TTL_SECONDS


async def test_client_secret_in_the_body_works_too(http: httpx.AsyncClient) -> None:
    response = await ask(
        http, {}, client_id="billing", client_secret=BILLING_SECRET, audience="auth"
    )

    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["sub"] == "billing"


async def test_basic_and_body_secret_at_once_is_invalid_request(http: httpx.AsyncClient) -> None:
    response = await ask(
        http, basic("orders", ORDERS_SECRET), client_secret=ORDERS_SECRET, audience="auth"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "headers",
    [basic("orders", "wrong-secret"), basic("nobody", ORDERS_SECRET), {}],
    ids=["wrong secret", "unknown client", "no authentication"],
)
async def test_failed_client_authentication_is_401_invalid_client_with_a_basic_challenge(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await ask(http, headers, audience="auth")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert "access_token" not in response.text


async def test_scope_is_narrowed_to_what_the_client_may_have(http: httpx.AsyncClient) -> None:
    response = await ask(
        http, basic("orders", ORDERS_SECRET), audience="auth", scope="admin revocations:read"
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "revocations:read"
    assert claims_of(response.json()["access_token"])["scope"] == "revocations:read"


async def test_asking_only_for_scopes_the_client_may_not_have_is_invalid_scope(
    http: httpx.AsyncClient,
) -> None:
    response = await ask(http, basic("orders", ORDERS_SECRET), audience="auth", scope="admin")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_an_audience_the_client_may_not_ask_for_is_invalid_target(
    http: httpx.AsyncClient,
) -> None:
    response = await ask(http, basic("orders", ORDERS_SECRET), audience="billing")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"


async def test_an_unknown_grant_type_is_unsupported(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/auth/token", data={"grant_type": "password"}, headers=basic("orders", ORDERS_SECRET)
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_a_repeated_parameter_is_invalid_request(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/auth/token",
        content="grant_type=client_credentials&audience=auth&audience=billing",
        headers={
            **basic("orders", ORDERS_SECRET),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_failed_client_authentications_are_rate_limited_per_ip_but_successes_are_not(
    settings: Settings,
) -> None:
    limited = Settings.model_validate(
        {
            **with_service_clients(settings).model_dump(),
            "CLIENT_AUTH_FAILURE_RATE_LIMIT_PER_IP": "3/minute",
        }
    )
    async with running_auth(limited) as auth:
        for _ in range(10):  # a busy service authenticating correctly is never slowed
            ok = await ask(auth.http, basic("orders", ORDERS_SECRET), audience="auth")
            assert ok.status_code == 200
        for _ in range(3):
            wrong = await ask(auth.http, basic("orders", "guess"), audience="auth")
            assert wrong.json()["error"] == "invalid_client"

        refused = await ask(auth.http, basic("orders", ORDERS_SECRET), audience="auth")

    assert refused.status_code == 429
    assert refused.json()["error"] == "temporarily_unavailable"
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["cache-control"] == "no-store"
