"""The dev gateway routes the public API by path, keeps internals internal, hardens answers."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
from tessera_dev.accounts import Account
from tessera_dev.harness import RunningPlatform

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def test_the_public_api_of_each_service_is_reachable_through_the_gateway(
    gateway: httpx.Client, platform: RunningPlatform, alice: Account
) -> None:
    direct = httpx.get(platform.plan.service("auth").base_url + "/.well-known/jwks.json").json()

    assert gateway.get("/.well-known/jwks.json").json() == direct
    assert gateway.get("/.well-known/oauth-authorization-server").status_code == 200
    assert gateway.get("/v1/users/me", headers=alice.bearer).json()["id"] == alice.id
    assert gateway.get("/v1/orders", headers=alice.bearer).status_code == 200
    assert gateway.get("/v1/invoices", headers=alice.bearer).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/v1/revocations", "/v1/revocations/watch", "/metrics", "/readyz", "/v1/ordersx", "/v1"],
)
def test_internal_and_unknown_paths_are_404_at_the_gateway(
    gateway: httpx.Client, path: str
) -> None:
    answer = gateway.get(path)

    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_a_token_failure_reaches_the_client_with_its_challenge(gateway: httpx.Client) -> None:
    answer = gateway.get("/v1/orders", headers={"Authorization": "Bearer garbage"})

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_the_gateway_passes_the_request_id_and_adds_the_security_headers(
    gateway: httpx.Client,
) -> None:
    answer = gateway.get("/.well-known/jwks.json", headers={"X-Request-ID": "gw-test-42"})

    assert answer.headers["X-Request-ID"] == "gw-test-42"
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert "'unsafe-inline'" not in answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


def test_a_client_cannot_choose_the_address_the_services_see(
    gateway: httpx.Client, platform: RunningPlatform
) -> None:
    request_id = f"gw-xff-{secrets.token_hex(6)}"

    gateway.get(
        "/.well-known/jwks.json",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": request_id},
    )

    log = platform.wait_for_log("auth", request_id)
    lines = [json.loads(line) for line in log.splitlines() if request_id in line]
    assert lines
    assert all("203.0.113.9" not in json.dumps(line) for line in lines)


def test_the_gateway_serves_a_page_at_the_root(gateway: httpx.Client) -> None:
    answer = gateway.get("/")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["X-Frame-Options"] == "DENY"
