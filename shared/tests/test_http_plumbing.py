"""install_service_defaults and the FastAPI auth dependencies, over a real ASGI app."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from tessera import (
    CurrentPrincipal,
    Principal,
    ProblemError,
    TokenVerifier,
    current_principal_var,
    install_service_defaults,
    request_id_var,
    require_scopes,
)
from tessera.http.app import create_service_app
from tessera.http.draining import draining_of
from tessera.logging import JsonFormatter
from tessera.settings import ServiceSettings

BODY_LIMIT = 4096
Mint = Callable[..., str]
Claims = Callable[..., dict[str, Any]]


class Item(BaseModel):
    quantity: int


def build_app(verifier: TokenVerifier, ready: list[bool]) -> FastAPI:
    app = FastAPI()

    async def database_ready() -> bool:
        return ready[0]

    install_service_defaults(
        app,
        service="orders",
        readiness={"database": database_ready},
        max_body_bytes=BODY_LIMIT,
        trusted_proxies=["10.0.0.9", "10.42.0.0/16"],  # a gateway, and an ingress pod network
    )
    app.state.token_verifier = verifier

    @app.get("/v1/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        in_context = current_principal_var.get()
        return {"sub": principal.sub, "same": in_context is principal, "rid": request_id_var.get()}

    @app.get("/v1/admin")
    async def admin(
        principal: Annotated[Principal, Depends(require_scopes("admin", "orders:read"))],
    ) -> dict[str, str]:
        return {"sub": principal.sub}

    @app.post("/v1/items")
    async def create(item: Item) -> dict[str, int]:
        return {"quantity": item.quantity}

    @app.get("/v1/gone")
    async def gone() -> None:
        raise ProblemError(410, "Gone", "This order was archived", type="https://tessera/gone")

    @app.get("/v1/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/v1/caller")
    async def caller(request: Request) -> dict[str, str | None]:
        return {"ip": request.client.host if request.client else None, "scheme": request.url.scheme}

    return app


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[tuple[httpx.AsyncClient, list[bool]]]:
    ready = [True]
    transport = httpx.ASGITransport(app=build_app(verifier, ready))
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as http:
        yield http, ready


Client = tuple[httpx.AsyncClient, list[bool]]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


async def test_a_request_without_a_token_gets_a_bare_bearer_challenge(client: Client) -> None:
    response = await client[0].get("/v1/me")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_another_authorization_scheme_counts_as_no_token(client: Client) -> None:
    response = await client[0].get("/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_invalid_token_gets_401_invalid_token(client: Client, mint: Mint) -> None:
    token = mint(header={"alg": "none"})
    response = await client[0].get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The token algorithm is not accepted"'
    )
    assert body["detail"] == "The token algorithm is not accepted"
    assert token not in response.text


async def test_a_valid_token_reaches_the_route_with_its_principal(
    client: Client, mint: Mint
) -> None:
    response = await client[0].get(
        "/v1/me", headers={"Authorization": f"bearer {mint()}", "X-Request-ID": "req-42"}
    )
    assert response.status_code == 200
    assert response.json() == {"sub": "user-1", "same": True, "rid": "req-42"}


async def test_a_token_without_the_needed_scope_gets_403_insufficient_scope(
    client: Client, mint: Mint
) -> None:
    response = await client[0].get("/v1/admin", headers={"Authorization": f"Bearer {mint()}"})
    assert_problem(response, 403)
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="admin orders:read"'
    )


async def test_a_token_with_every_needed_scope_passes(
    client: Client, mint: Mint, claims: Claims
) -> None:
    token = mint(claims(scope="orders:read admin"))
    response = await client[0].get("/v1/admin", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"sub": "user-1"}


async def test_the_request_id_is_echoed(client: Client) -> None:
    response = await client[0].get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


async def test_a_missing_or_malformed_request_id_is_replaced_by_a_fresh_one(
    client: Client,
) -> None:
    fresh = await client[0].get("/healthz")
    hostile = await client[0].get("/healthz", headers={"X-Request-ID": 'a b"<script>' * 3})
    assert len(fresh.headers["x-request-id"]) == 32
    assert len(hostile.headers["x-request-id"]) == 32
    assert fresh.headers["x-request-id"] != hostile.headers["x-request-id"]


async def test_invalid_input_gets_422_with_field_errors(client: Client) -> None:
    response = await client[0].post("/v1/items", json={"quantity": "many"})
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "quantity"]


async def test_a_problem_error_becomes_its_problem_response(client: Client) -> None:
    body = assert_problem(await client[0].get("/v1/gone"), 410)
    assert body == {
        "type": "https://tessera/gone",
        "title": "Gone",
        "status": 410,
        "detail": "This order was archived",
    }


async def test_an_unknown_route_is_a_problem_too(client: Client) -> None:
    assert_problem(await client[0].get("/nowhere"), 404)


async def test_readyz_is_503_while_a_dependency_is_down(client: Client) -> None:
    http, ready = client
    assert (await http.get("/readyz")).status_code == 200
    ready[0] = False
    body = assert_problem(await http.get("/readyz"), 503)
    assert body["checks"] == {"database": False}


async def test_metrics_are_exposed_for_prometheus(client: Client, mint: Mint) -> None:
    await client[0].get("/v1/me", headers={"Authorization": "Bearer x.y.z"})
    text = (await client[0].get("/metrics")).text
    assert 'tessera_token_verification_failures_total{reason="malformed"}' in text
    assert 'route="/v1/me"' in text


async def test_the_access_log_names_request_and_caller_but_never_the_token(
    client: Client, mint: Mint, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint()
    with caplog.at_level(logging.INFO, logger="tessera.access"):
        await client[0].get(
            "/v1/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-7"}
        )
    formatter = JsonFormatter("orders")
    lines = [formatter.format(r) for r in caplog.records if r.name == "tessera.access"]
    entry = json.loads(lines[-1])
    assert entry["service"] == "orders"
    assert entry["sub"] == "user-1"
    assert entry["status"] == 200
    assert entry["path"] == "/v1/me"
    assert token not in "".join(lines)


async def test_an_unhandled_error_is_one_logged_500_and_never_escapes_the_app(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    # ASGITransport re-raises what escapes the app: before, Starlette's last-resort handler
    # answered, re-raised, and uvicorn logged the traceback again and dropped the connection.
    http, _ = client
    with caplog.at_level(logging.ERROR):
        response = await http.get("/v1/bug")

    assert_problem(response, 500)
    assert "a bug" not in response.text
    assert [r.exc_info is not None for r in caplog.records if r.levelno >= logging.ERROR] == [True]


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b"{" * 5000, b'{"quantity": ' * 3000, b"\xff\xfe"]
)
async def test_a_malformed_json_body_is_a_4xx_problem(client: Client, body: bytes) -> None:
    http, _ = client
    response = await http.post(
        "/v1/items", content=body[:BODY_LIMIT], headers={"Content-Type": "application/json"}
    )

    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_over_the_limit_is_413_before_it_is_read(client: Client) -> None:
    http, _ = client
    declared = await http.post("/v1/items", content=b"x" * (BODY_LIMIT + 1))

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(3):
            yield b" " * BODY_LIMIT

    streamed = await http.post(
        "/v1/items", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert_problem(declared, 413)
    assert_problem(streamed, 413)
    assert (await http.post("/v1/items", json={"quantity": 1})).status_code == 200


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy_and_only_as_an_address(
    verifier: TokenVerifier,
) -> None:
    app = build_app(verifier, [True])

    async def from_peer(peer: str, **headers: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://orders") as http:
            return await http.get("/v1/caller", headers=headers)

    stranger = await from_peer("127.0.0.1", **{"X-Forwarded-For": "203.0.113.7"})
    gateway = await from_peer(
        "10.0.0.9", **{"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https"}
    )
    garbage = await from_peer("10.0.0.9", **{"X-Forwarded-For": "not-an-ip<script>"})
    via_ingress = await from_peer("10.42.3.4", **{"X-Forwarded-For": "203.0.113.8, 10.42.9.9"})

    assert stranger.json() == {"ip": "127.0.0.1", "scheme": "http"}
    assert gateway.json() == {"ip": "203.0.113.7", "scheme": "https"}
    assert via_ingress.json() == {"ip": "203.0.113.8", "scheme": "http"}
    assert_problem(garbage, 400)


@pytest.mark.parametrize("entry", ["gateway", "10.0.0.300", "10.0.0.0/33"])
def test_a_trusted_proxy_that_is_not_an_address_or_network_is_refused_at_start_up(
    entry: str,
) -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        ServiceSettings(DATABASE_URL="sqlite://", HTTP_PORT=0, TRUSTED_PROXIES=f"10.0.0.9,{entry}")


async def test_a_database_outage_is_503_with_retry_after_logged_once_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_service_app("orders", ServiceSettings(DATABASE_URL="sqlite://", HTTP_PORT=0))

    @app.get("/v1/orders")
    async def orders() -> None:
        raise OperationalError("SELECT * FROM orders WHERE id = ?", ("secret",), OSError())

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orders"
    ) as http:
        answer = await http.get("/v1/orders")

    assert_problem(answer, 503)
    assert answer.headers["retry-after"] == "1"
    storage_lines = [r for r in caplog.records if "Storage unavailable" in r.getMessage()]
    assert len(storage_lines) == 1
    assert storage_lines[0].exc_info is None
    assert "secret" not in caplog.text


async def test_a_draining_service_is_not_ready_and_runs_its_callbacks_once() -> None:
    app = create_service_app("orders", ServiceSettings(DATABASE_URL="sqlite://", HTTP_PORT=0))
    calls: list[str] = []
    draining = draining_of(app)
    assert draining is not None
    draining.on_start(lambda: calls.append("feed closed"))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://orders"
    ) as http:
        before = await http.get("/readyz")
        draining.start()
        draining.start()
        after = await http.get("/readyz")
    draining.on_start(lambda: calls.append("late"))

    assert before.status_code == 200
    assert_problem(after, 503)
    assert calls == ["feed closed", "late"]
