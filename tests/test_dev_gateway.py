"""The dev gateway routes the public API by path, keeps internals internal, hardens answers."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from auth_service.config import Settings as AuthSettings
from billing_service.config import Settings as BillingSettings
from orders_service.config import Settings as OrdersSettings
from tessera.keep_alive import CLIENT_KEEP_ALIVE_SECONDS, SERVER_KEEP_ALIVE_SECONDS
from tessera_dev.accounts import Account
from tessera_dev.gateway import (
    BODY_LIMITS,
    UNSAFE_PATH,
    GatewaySettings,
    create_app,
)
from tessera_dev.harness import RunningPlatform, free_ports

ROOT = Path(__file__).resolve().parents[1]

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


def test_the_spas_dev_inbox_link_leads_to_this_platforms_inbox(
    platform: RunningPlatform, gateway: httpx.Client
) -> None:
    answer = gateway.get("/dev/inbox")

    assert answer.status_code == 307
    assert answer.headers["location"] == f"{platform.plan.mail.inbox_url}/"
    nginx = (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    assert "location = /dev/inbox" in nginx  # compose's gateway has the same link, to Mailpit


def test_the_gateway_answers_its_own_liveness_at_healthz_as_the_nginx_gateway_does(
    gateway: httpx.Client,
) -> None:
    answer = gateway.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "service": "gateway"}
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert gateway.post("/healthz").status_code == 404
    nginx = (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    assert re.search(
        r"location = /healthz \{[^}]*return 200 '\{\"status\":\"ok\",\"service\":\"gateway\"\}'",
        nginx,
    )
    compose = (ROOT / "docker-compose.yml").read_text()
    assert '"http://127.0.0.1:8080/healthz"' in compose  # the gateway's healthcheck


def test_the_gateway_logs_one_json_line_per_request_as_the_services_do(
    gateway: httpx.Client, platform: RunningPlatform
) -> None:
    request_id = f"gw-log-{secrets.token_hex(6)}"

    gateway.get("/.well-known/jwks.json?probe=1", headers={"X-Request-ID": request_id})
    gateway.get("/healthz", headers={"X-Request-ID": f"{request_id}-health"})

    log = platform.wait_for_log("gateway", request_id)
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    (entry,) = [e for e in entries if e.get("request_id") == request_id]
    assert all({"ts", "level", "service", "message"} <= set(e) for e in entries)
    assert {e["service"] for e in entries} == {"gateway"}
    assert entry["level"] == "INFO"
    assert entry["message"] == "GET /.well-known/jwks.json 200"
    assert entry["upstream"] == "auth"
    assert "probe" not in json.dumps(entry)  # never the query string
    assert f"{request_id}-health" not in log  # probes are not logged at INFO


def test_the_gateway_serves_a_page_at_the_root(gateway: httpx.Client) -> None:
    answer = gateway.get("/")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["X-Frame-Options"] == "DENY"


TRAVERSALS = [
    "/v1/orders/../../metrics",
    "/v1/auth/../revocations",
    "/v1/auth/%2e%2e/revocations",
    "/v1/auth/%2E%2E/revocations",
    "/v1/orders/%2f..%2f..%2fmetrics",
    "/v1/orders/..%5c..%5cmetrics",
    "/v1//orders",
    "/v1/orders/./",
    "/v1/auth/..",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_a_path_that_normalises_elsewhere_is_refused_not_routed(
    platform: RunningPlatform, path: str
) -> None:
    # Found from outside: routed on the raw path, then normalised by httpx, these reached
    # orders' /metrics and auth's internal revocation feed.
    gateway = httpx.URL(platform.plan.gateway.base_url)
    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=30)
    try:
        connection.request("GET", path)  # sent as is, like curl --path-as-is
        answer = connection.getresponse()
        body = answer.read().decode()
    finally:
        connection.close()

    assert answer.status == 400
    assert answer.getheader("Content-Type", "").startswith("application/problem+json")
    assert "revocations" not in body
    assert "tessera_" not in body


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nginx_refuses_the_same_paths_with_the_same_expression(path: str) -> None:
    config = (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    (expression,) = re.findall(
        r'map \$request_uri \$tessera_unsafe_path \{\s*default 0;\s*"~(.*)" 1;', config
    )

    assert re.search(expression, path + "?q=1")
    assert not re.search(expression, "/v1/orders/3f1c?redirect=//elsewhere/..")
    assert expression == "^[^?]*" + UNSAFE_PATH.pattern  # the dev gateway's rule, before the query


def test_nginx_passes_the_matched_path_on_and_merges_no_slashes_silently() -> None:
    config = (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    proxied = re.findall(r"^\s*location .*\bproxy_pass\s+([^;]+);", config, re.M)

    assert proxied
    assert all(target.startswith("http://") for target in proxied)
    assert not any("$" in target for target in proxied)  # never $request_uri or $uri upstream
    assert re.search(r"^\s*merge_slashes on;", config, re.M)
    assert re.search(r"if \(\$tessera_unsafe_path\) \{\s*return 400", config)


def test_both_gateways_and_the_services_agree_on_every_body_limit() -> None:
    config = (ROOT / "deploy" / "nginx" / "default.conf").read_text()
    server_wide = re.search(r"^    client_max_body_size (\d+)k;", config, re.M)
    orders_location = re.search(
        r"location [^{]*/v1/orders[^{]*\{[^}]*client_max_body_size (\d+)m;", config
    )

    assert server_wide is not None
    assert orders_location is not None
    assert int(server_wide.group(1)) * 1024 == BODY_LIMITS["auth"] == BODY_LIMITS["billing"]
    assert int(orders_location.group(1)) * 1024 * 1024 == BODY_LIMITS["orders"]
    assert AuthSettings.model_fields["MAX_REQUEST_BODY_BYTES"].default == BODY_LIMITS["auth"]
    assert BillingSettings.model_fields["MAX_REQUEST_BODY_BYTES"].default == BODY_LIMITS["billing"]
    assert OrdersSettings.model_fields["MAX_REQUEST_BODY_BYTES"].default == BODY_LIMITS["orders"]


def test_bodies_over_a_services_limit_are_refused_at_the_gateway(
    gateway: httpx.Client, alice: Account
) -> None:
    too_big_for_auth = gateway.post(
        "/v1/auth/login", content=b"x" * (BODY_LIMITS["auth"] + 1), headers=alice.bearer
    )

    def stream() -> Iterator[bytes]:  # no Content-Length: counted as it is forwarded
        for _ in range(BODY_LIMITS["orders"] // 65536 + 2):
            yield b" " * 65536

    too_big_for_orders = gateway.post(
        "/v1/orders", content=stream(), headers={**alice.bearer, "Content-Type": "application/json"}
    )

    assert too_big_for_auth.status_code == 413
    assert too_big_for_orders.status_code == 413
    assert too_big_for_orders.headers["Content-Type"].startswith("application/problem+json")


def test_a_direct_caller_on_loopback_cannot_claim_a_client_address(
    platform: RunningPlatform,
) -> None:
    # The services believe X-Forwarded-For only from the gateway's own address (127.0.0.2);
    # another local process (here, this test on 127.0.0.1) is just itself.
    email = f"xff-{secrets.token_hex(4)}@example.org"
    auth = platform.plan.service("auth").base_url
    with httpx.Client(base_url=auth, timeout=30) as client:
        client.post("/v1/users", json={"email": email, "password": "correct horse battery"})
        login = client.post(
            "/v1/auth/login",
            json={"email": email, "password": "correct horse battery", "client_id": "mobile"},
            headers={"X-Forwarded-For": "203.0.113.99"},
        ).json()
        sessions = client.get(
            "/v1/sessions", headers={"Authorization": f"Bearer {login['access_token']}"}
        ).json()

    assert [session["ip"] for session in sessions["items"]] == ["127.0.0.1"]


async def test_the_gateway_never_reuses_an_upstream_connection_the_service_may_be_closing() -> None:
    """A service closes an idle connection after SERVER_KEEP_ALIVE_SECONDS; the gateway drops
    its own idle ones sooner, so a request is never sent down one that is being closed (that
    was a 502 "auth is unreachable" now and then). Here: a connection idle for longer than the
    gateway keeps one, but not yet as long as the service would, is not reused."""
    peers: list[tuple[str, int]] = []

    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        peers.append(scope["client"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_ports(1)[0]
    config = uvicorn.Config(
        upstream,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        proxy_headers=False,  # the peer's own port, not X-Forwarded-For's
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        gateway = create_app(GatewaySettings(AUTH_UPSTREAM=f"http://127.0.0.1:{port}"))
        transport = httpx.ASGITransport(app=gateway)
        async with (
            gateway.router.lifespan_context(gateway),
            httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
        ):
            assert (await client.get("/.well-known/jwks.json")).status_code == 200
            await asyncio.sleep(CLIENT_KEEP_ALIVE_SECONDS + 0.5)  # < SERVER_KEEP_ALIVE_SECONDS
            assert (await client.get("/.well-known/jwks.json")).status_code == 200
    finally:
        server.should_exit = True
        await serving

    assert CLIENT_KEEP_ALIVE_SECONDS + 0.5 < SERVER_KEEP_ALIVE_SECONDS
    first, second = peers
    assert first != second  # a new connection: the idle one was dropped by the gateway
