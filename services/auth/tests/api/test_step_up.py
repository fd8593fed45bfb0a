"""`POST /v1/auth/step-up`: the signed-in user authenticates again, and the session's tokens say
so from then on (`auth_time` now); wrong credentials are 403 and nothing changes; an ended
session cannot step up; a web session needs its CSRF header."""

from __future__ import annotations

import jwt
import pytest
from auth_service.config import Settings

from ..session_support import (  # noqa: TID252 (shared test helpers)
    PASSWORD,
    Auth,
    bearer,
    csrf_header,
    mobile_login,
    refresh_mobile,
    register,
    running,
    web_login,
)


def claims(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return decoded


@pytest.fixture
async def auth(auth: Auth) -> Auth:
    await register(auth.http, "ada@example.com")
    return auth


async def test_a_step_up_moves_the_sessions_auth_time_to_now_and_refreshes_keep_it(
    auth: Auth,
) -> None:
    login = await mobile_login(auth.http, "ada@example.com")
    signed_in = claims(login["access_token"])
    auth.clock.advance(900)  # the app refreshed meanwhile: its auth_time stayed the login's
    current = (await refresh_mobile(auth.http, login["refresh_token"])).json()

    stepped = await auth.http.post(
        "/v1/auth/step-up", json={"password": PASSWORD}, headers=bearer(current["access_token"])
    )
    refreshed = await refresh_mobile(auth.http, current["refresh_token"])

    assert stepped.status_code == 200, stepped.text
    assert stepped.headers["cache-control"] == "no-store"
    fresh = claims(stepped.json()["access_token"])
    assert fresh["auth_time"] == int(auth.clock.now)
    assert fresh["auth_time"] == signed_in["auth_time"] + 900  # type: ignore[operator]
    assert (fresh["sid"], fresh["acr"], fresh["amr"]) == (
        signed_in["sid"],
        "urn:tessera:acr:pwd",
        ["pwd"],
    )
    assert claims(refreshed.json()["access_token"])["auth_time"] == fresh["auth_time"]
    assert "step_up" in await auth.audit_events()


async def test_a_wrong_password_is_403_and_changes_nothing(auth: Auth) -> None:
    login = await mobile_login(auth.http, "ada@example.com")
    auth.clock.advance(200)

    refused = await auth.http.post(
        "/v1/auth/step-up", json={"password": "not it"}, headers=bearer(login["access_token"])
    )
    refreshed = await refresh_mobile(auth.http, login["refresh_token"])

    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (
        claims(refreshed.json()["access_token"])["auth_time"]
        == claims(login["access_token"])["auth_time"]
    )
    assert "step_up.failed" in await auth.audit_events()


async def test_wrong_passwords_at_step_up_count_against_the_account(
    settings: Settings,
) -> None:
    async with running(settings, LOGIN_RATE_LIMIT_PER_ACCOUNT="5/minute") as auth:
        await register(auth.http, "ada@example.com")
        login = await mobile_login(auth.http, "ada@example.com")
        answers = []
        for _ in range(8):
            answer = await auth.http.post(
                "/v1/auth/step-up",
                json={"password": "guess"},
                headers=bearer(login["access_token"]),
            )
            answers.append(answer.status_code)

    assert answers[0] == 403
    assert 429 in answers  # the per-account budget, whatever IP the token comes from


async def test_an_ended_session_cannot_step_up(auth: Auth) -> None:
    login = await mobile_login(auth.http, "ada@example.com")
    await auth.http.post("/v1/auth/logout-all", headers=bearer(login["access_token"]))

    refused = await auth.http.post(
        "/v1/auth/step-up", json={"password": PASSWORD}, headers=bearer(login["access_token"])
    )

    assert refused.status_code == 401


async def test_a_web_session_steps_up_only_with_its_csrf_header(auth: Auth) -> None:
    async with auth.browser() as browser:
        login = await web_login(browser, "ada@example.com")
        without = await browser.post(
            "/v1/auth/step-up", json={"password": PASSWORD}, headers=bearer(login["access_token"])
        )
        with_csrf = await browser.post(
            "/v1/auth/step-up",
            json={"password": PASSWORD},
            headers={**bearer(login["access_token"]), **csrf_header(browser)},
        )

    assert without.status_code == 403
    assert with_csrf.status_code == 200, with_csrf.text
