"""Helpers for session tests: an app on a movable clock, users, logins, refreshes, and reading
the rows a revocation must leave behind (sessions, revocation events, audit)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
from auth_service.adapters.models import (
    AuditRow,
    RefreshTokenRow,
    RevocationEventRow,
    SessionRow,
    UserRow,
)
from auth_service.bootstrap import AuthRuntime
from auth_service.config import Settings
from auth_service.main import create_app
from fastapi import FastAPI
from sqlalchemy import select

ORIGIN = "https://auth.example.test"
PASSWORD = "correct horse"


class Clock:
    """The time the app sees; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Auth:
    app: FastAPI
    http: httpx.AsyncClient
    clock: Clock

    @property
    def runtime(self) -> AuthRuntime:
        runtime: AuthRuntime = self.app.state.runtime
        return runtime

    def browser(self, **headers: str) -> httpx.AsyncClient:
        """Another cookie jar on the same app (a second browser or device)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=ORIGIN, headers=headers
        )

    async def rows(self, model: Any) -> list[Any]:
        async with self.runtime.storage.session_factory() as session:
            return list((await session.execute(select(model))).scalars())

    async def sessions(self) -> dict[str, SessionRow]:
        return {row.id: row for row in await self.rows(SessionRow)}

    async def refresh_token_rows(self) -> list[RefreshTokenRow]:
        return await self.rows(RefreshTokenRow)

    async def events(self) -> list[tuple[str, str, int | None]]:
        rows = await self.rows(RevocationEventRow)
        return [(row.kind, row.value, row.min_ver) for row in sorted(rows, key=lambda r: r.id)]

    async def audit_events(self) -> list[str]:
        return [row.event for row in sorted(await self.rows(AuditRow), key=lambda r: r.id)]

    async def user_id(self, email: str) -> str:
        """The id of the account registered with `email` (registration does not say it)."""
        (user,) = [row for row in await self.rows(UserRow) if row.email_normalized == email.lower()]
        return str(user.id)


@asynccontextmanager
async def running(settings: Settings, **overrides: Any) -> AsyncIterator[Auth]:
    settings = Settings.model_validate({**settings.model_dump(), **overrides})
    clock = Clock()
    app = create_app(settings, clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http,
    ):
        yield Auth(app, http, clock)


async def register(http: httpx.AsyncClient, email: str) -> None:
    response = await http.post("/v1/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 202, response.text


async def mobile_login(http: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await http.post(
        "/v1/auth/login", json={"email": email, "password": PASSWORD, "client_id": "mobile"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def web_login(browser: httpx.AsyncClient, email: str) -> dict[str, Any]:
    """The SPA's way: fetch a login-CSRF cookie, echo it, get the refresh cookie."""
    csrf = (await browser.get("/v1/auth/csrf")).json()["csrf_token"]
    response = await browser.post(
        "/v1/auth/login",
        json={"email": email, "password": PASSWORD, "client_id": "web"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def csrf_header(browser: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": browser.cookies.get("tessera_csrf") or ""}


async def refresh_mobile(http: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await http.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": refresh_token},
    )


async def refresh_web(browser: httpx.AsyncClient) -> httpx.Response:
    return await browser.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "client_id": "web"},
        headers=csrf_header(browser),
    )


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def totp_code(secret: str, at: float) -> str:
    """What the user's authenticator app shows at `at` (unix seconds)."""
    return pyotp.TOTP(secret).at(at)


async def mark_verified(auth: Auth, email: str) -> None:
    """As if the user opened the verification mail (nothing is enrolled before that)."""
    async with auth.runtime.storage.unit_of_work() as uow:
        user = await uow.users.get_by_email(email.lower())
        assert user is not None
        await uow.users.mark_email_verified(user.id, now=user.created_at)
        await uow.commit()


@dataclass(frozen=True)
class Enrolled:
    """A user who turned TOTP on: its secret, recovery codes, and the session's new token."""

    secret: str
    recovery_codes: list[str]
    access_token: str


async def enrol_totp(auth: Auth, email: str, access_token: str) -> Enrolled:
    """Turn TOTP on for the signed-in `email` (verified first), as the SPA does. The code used
    to confirm is the current step's: the next code to use is `auth.clock.now + 30`'s."""
    await mark_verified(auth, email)
    begun = await auth.http.post("/v1/users/me/mfa/totp", headers=bearer(access_token))
    assert begun.status_code == 200, begun.text
    secret = begun.json()["secret"]
    confirmed = await auth.http.post(
        "/v1/users/me/mfa/totp/confirm",
        json={"code": totp_code(secret, auth.clock.now)},
        headers=bearer(access_token),
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    return Enrolled(secret, body["recovery_codes"], body["access_token"])
