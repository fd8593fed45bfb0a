"""Helpers for service-identity tests: settings with service clients, an app with a movable
clock, and calls to the token endpoint as a confidential client."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from auth_service.config import ServiceClientRule, Settings
from auth_service.main import create_app
from fastapi import FastAPI

ORDERS_SECRET = "orders-secret-0123456789abcdefghijklmnop"
BILLING_SECRET = "billing-secret-0123456789abcdefghijklmno"
REPORTS_SECRET = "reports-secret-0123456789abcdefghijklmno"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def with_service_clients(settings: Settings) -> Settings:
    """The default rules plus `reports`, a client that may get tokens meant for orders."""
    rules = dict(settings.SERVICE_CLIENT_RULES)
    rules["reports"] = ServiceClientRule(
        grants=("client_credentials",), audiences=("orders",), scopes=("orders:read",)
    )
    clients = {"orders": ORDERS_SECRET, "billing": BILLING_SECRET, "reports": REPORTS_SECRET}
    return Settings.model_validate(
        {**settings.model_dump(), "SERVICE_CLIENTS": clients, "SERVICE_CLIENT_RULES": rules}
    )


class MovableClock:
    """Wall-clock time plus an offset the test moves forward."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class RunningAuth:
    app: FastAPI
    http: httpx.AsyncClient


@asynccontextmanager
async def running_auth(settings: Settings, clock: Any = None) -> AsyncIterator[RunningAuth]:
    app = create_app(settings) if clock is None else create_app(settings, clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://auth.internal"
        ) as http,
    ):
        yield RunningAuth(app, http)


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


async def service_token(
    http: httpx.AsyncClient,
    client_id: str = "orders",
    secret: str = ORDERS_SECRET,
    *,
    audience: str = "auth",
    scope: str = "revocations:read",
) -> str:
    response = await http.post(
        "/v1/auth/token",
        data={"grant_type": "client_credentials", "audience": audience, "scope": scope},
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def exchange(
    http: httpx.AsyncClient,
    subject_token: str,
    *,
    client_id: str = "orders",
    secret: str = ORDERS_SECRET,
    **overrides: str,
) -> httpx.Response:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": subject_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": "billing",
        **overrides,
    }
    return await http.post("/v1/auth/token", data=form, headers=basic(client_id, secret))


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded
