"""Token grants as a service client calls them (DESIGN §6), for e2e tests and benchmarks.

A running platform's service-client secrets are in the files its description names, so a test
can act as orders: `service_client_secret(plan, "orders")`, then `client_credentials(...)` or
`exchange(...)` at auth's token endpoint with HTTP Basic client authentication.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tessera_dev.platform import Platform

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105


def service_client_secret(plan: Platform, client_id: str) -> str:
    """The secret the platform gave `client_id` (read from its file, never logged)."""
    path = Path(plan.service(client_id).settings["SERVICE_CLIENT_SECRET_FILE"])
    return path.read_text().strip()


def _token(auth_base_url: str, client_id: str, secret: str, form: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=auth_base_url, timeout=30) as client:
        return client.post("/v1/auth/token", data=form, auth=(client_id, secret))


def client_credentials(
    auth_base_url: str, client_id: str, secret: str, *, audience: str, scope: str | None = None
) -> httpx.Response:
    """`grant_type=client_credentials`: a token naming the service itself."""
    form = {"grant_type": "client_credentials", "audience": audience}
    if scope is not None:
        form["scope"] = scope
    return _token(auth_base_url, client_id, secret, form)


def exchange(
    auth_base_url: str, client_id: str, secret: str, *, subject_token: str, audience: str
) -> httpx.Response:
    """RFC 8693 token exchange: the user's token for one acting through `client_id`."""
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": audience,
    }
    return _token(auth_base_url, client_id, secret, form)


def access_token_of(response: httpx.Response) -> str:
    """The access token of a successful token response (raises with the error otherwise)."""
    if response.status_code != 200:
        raise RuntimeError(f"token endpoint: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    token: str = body["access_token"]
    return token
