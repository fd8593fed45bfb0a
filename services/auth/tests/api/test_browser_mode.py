"""Cookie mode for the SPA: the refresh cookie, CSRF on every cookie-authenticated call, CORS,
Clear-Site-Data on logout; and rate limits answering 429 with Retry-After."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from auth_service.config import Settings
from auth_service.use_cases.refresh import REFUSED

from ..session_support import (  # noqa: TID252 (shared test helpers)
    ORIGIN,
    PASSWORD,
    Auth,
    csrf_header,
    mobile_login,
    refresh_mobile,
    refresh_web,
    register,
    running,
    web_login,
)


@pytest.fixture
async def auth(settings: Settings) -> AsyncIterator[Auth]:
    async with running(settings, CORS_ALLOWED_ORIGINS="https://app.example.test") as running_auth:
        await register(running_auth.http, "ada@example.com")
        yield running_auth


def _set_cookies(headers: list[str]) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in headers}


async def test_web_login_sets_a_locked_down_refresh_cookie_and_a_session_bound_csrf_cookie(
    auth: Auth,
) -> None:
    async with auth.browser() as browser:
        csrf = (await browser.get("/v1/auth/csrf")).json()["csrf_token"]
        response = await browser.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD, "client_id": "web"},
            headers={"X-CSRF-Token": csrf},
        )

    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    cookies = _set_cookies(response.headers.get_list("set-cookie"))
    refresh = cookies["__Secure-tessera_rt"].lower()
    for attribute in ("httponly", "secure", "samesite=strict", "path=/v1/auth"):
        assert attribute in refresh
    csrf_cookie = cookies["tessera_csrf"].lower()
    assert "httponly" not in csrf_cookie
    assert "path=/;" in csrf_cookie or csrf_cookie.endswith("path=/")
    assert "samesite=strict" in csrf_cookie
    assert cookies["tessera_csrf"].split(";")[0].split("=", 1)[1] != csrf  # renewed at login


async def test_plain_http_dev_uses_the_unprefixed_cookie_without_secure(settings: Settings) -> None:
    async with running(settings, ISSUER="http://localhost:8000") as auth:
        await register(auth.http, "ada@example.com")
        async with auth.browser() as browser:
            await web_login(browser, "ada@example.com")
            assert browser.cookies.get("tessera_rt") is not None
            response = await refresh_web(browser)
        cookie = _set_cookies(response.headers.get_list("set-cookie"))["tessera_rt"].lower()
        assert "secure" not in cookie
        assert "httponly" in cookie


async def test_the_cookie_refresh_rotates_the_cookie(auth: Auth) -> None:
    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        before = browser.cookies.get("__Secure-tessera_rt")
        response = await refresh_web(browser)

        assert response.status_code == 200
        assert set(response.json()) == {"access_token", "token_type", "expires_in"}
        assert browser.cookies.get("__Secure-tessera_rt") not in (None, before)
        assert (await refresh_web(browser)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no X-CSRF-Token
        {"X-CSRF-Token": "forged.value"},
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ],
)
async def test_a_cookie_refresh_failing_the_csrf_checks_is_403_and_changes_nothing(
    auth: Auth, headers: dict[str, str]
) -> None:
    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        good = csrf_header(browser)
        sent = headers if "X-CSRF-Token" in headers or not headers else {**good, **headers}
        response = await browser.post(
            "/v1/auth/token", data={"grant_type": "refresh_token", "client_id": "web"}, headers=sent
        )

        # the token endpoint answers RFC 6749 JSON, uncacheable, even for a CSRF refusal
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        assert set(response.json()) == {"error", "error_description"}
        assert response.json()["error"] == "invalid_request"
        assert len(await auth.refresh_token_rows()) == 1
        assert (await refresh_web(browser)).status_code == 200


async def test_a_csrf_token_bound_to_another_session_is_refused(auth: Auth) -> None:
    async with auth.browser() as mine, auth.browser() as theirs:
        await web_login(mine, "ada@example.com")
        await web_login(theirs, "ada@example.com")
        other_csrf = theirs.cookies.get("tessera_csrf") or ""
        mine.cookies.set("tessera_csrf", other_csrf, domain="auth.example.test", path="/")

        response = await mine.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "client_id": "web"},
            headers={"X-CSRF-Token": other_csrf},
        )
        assert response.status_code == 403


async def test_web_login_needs_the_login_csrf_token(auth: Auth) -> None:
    async with auth.browser() as browser:
        response = await browser.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD, "client_id": "web"},
        )
        assert response.status_code == 403
        await browser.get("/v1/auth/csrf")
        cross_site = await browser.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD, "client_id": "web"},
            headers={**csrf_header(browser), "Origin": "https://evil.example"},
        )
        assert cross_site.status_code == 403


async def test_same_origin_and_allow_listed_origins_pass(auth: Auth) -> None:
    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        for origin, site in ((ORIGIN, "same-origin"), ("https://app.example.test", "same-site")):
            response = await browser.post(
                "/v1/auth/token",
                data={"grant_type": "refresh_token", "client_id": "web"},
                headers={**csrf_header(browser), "Origin": origin, "Sec-Fetch-Site": site},
            )
            assert response.status_code == 200, response.text


async def test_cookie_logout_ends_the_session_and_clears_the_browser(auth: Auth) -> None:
    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        refused = await browser.post("/v1/auth/logout")  # no CSRF header
        response = await browser.post("/v1/auth/logout", headers=csrf_header(browser))

        assert refused.status_code == 403
        assert (
            refused.headers["content-type"] == "application/problem+json"
        )  # not the token endpoint
        assert response.status_code == 204
        assert response.headers["clear-site-data"] == '"cookies", "storage"'
        assert browser.cookies.get("__Secure-tessera_rt") is None
        (session,) = (await auth.sessions()).values()
        assert session.revoked_reason == "logout"
        assert await auth.events() == [("session", session.id, None)]


async def test_a_refresh_of_an_ended_session_clears_the_cookies(auth: Auth) -> None:
    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        stolen = browser.cookies.get("__Secure-tessera_rt")
        assert (await refresh_web(browser)).status_code == 200
        auth.clock.advance(60)
        browser.cookies.set(
            "__Secure-tessera_rt", stolen or "", domain="auth.example.test", path="/v1/auth"
        )

        response = await refresh_web(browser)

        assert response.json()["error"] == "invalid_grant"
        assert browser.cookies.get("__Secure-tessera_rt") is None


async def test_cors_grants_only_allow_listed_origins_with_credentials(auth: Auth) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-csrf-token, content-type",
    }
    allowed = await auth.http.options(
        "/v1/auth/token", headers={"Origin": "https://app.example.test", **preflight}
    )
    denied = await auth.http.options(
        "/v1/auth/token", headers={"Origin": "https://evil.example", **preflight}
    )
    simple = await auth.http.get("/healthz", headers={"Origin": "https://evil.example"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.test"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in denied.headers
    assert "access-control-allow-origin" not in simple.headers


def test_a_wildcard_cors_origin_is_refused_at_start_up(settings: Settings) -> None:
    with pytest.raises(ValueError, match="never"):
        Settings.model_validate({**settings.model_dump(), "CORS_ALLOWED_ORIGINS": "*"})


async def test_too_many_logins_get_429_with_retry_after_but_other_accounts_still_work(
    settings: Settings,
) -> None:
    async with running(settings, LOGIN_RATE_LIMIT_PER_ACCOUNT="3/minute;5/hour") as auth:
        await register(auth.http, "ada@example.com")
        await register(auth.http, "bob@example.com")

        async def attempt(email: str, password: str = "wrong horse") -> int:
            body = {"email": email, "password": password, "client_id": "mobile"}
            return (await auth.http.post("/v1/auth/login", json=body)).status_code

        assert [await attempt("ada@example.com") for _ in range(3)] == [401, 401, 401]
        limited = await auth.http.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD, "client_id": "mobile"},
        )
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert await attempt("bob@example.com", PASSWORD) == 200


async def test_failures_from_many_ips_close_new_ips_to_the_account_but_not_the_owners_own(
    settings: Settings,
) -> None:
    # Found from outside: the per-account limit was kept per (account, IP), so a guesser
    # rotating X-Forwarded-For (or real addresses) had no ceiling at all.
    async with running(
        settings, TRUSTED_PROXIES="127.0.0.1", LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT="4/minute"
    ) as auth:
        await register(auth.http, "ada@example.com")
        await register(auth.http, "bob@example.com")

        async def attempt(email: str, password: str, ip: str) -> int:
            body = {"email": email, "password": password, "client_id": "mobile"}
            answer = await auth.http.post(
                "/v1/auth/login", json=body, headers={"X-Forwarded-For": ip}
            )
            return answer.status_code

        home = "198.51.100.1"
        assert await attempt("ada@example.com", PASSWORD, home) == 200
        guesses = [await attempt("ada@example.com", "wrong", f"203.0.113.{n}") for n in range(5)]

        assert guesses == [401, 401, 401, 401, 429]
        assert await attempt("ada@example.com", PASSWORD, "203.0.113.99") == 429
        assert await attempt("ada@example.com", PASSWORD, home) == 200  # signed in here lately
        assert await attempt("bob@example.com", PASSWORD, "203.0.113.99") == 200


async def test_an_address_the_owner_signed_in_from_long_ago_is_not_exempt(
    settings: Settings,
) -> None:
    async with running(
        settings,
        TRUSTED_PROXIES="127.0.0.1",
        LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT="2/day",
        KNOWN_IP_DAYS=30,
    ) as auth:
        await register(auth.http, "ada@example.com")
        body = {"email": "ada@example.com", "password": PASSWORD, "client_id": "mobile"}
        old_home = {"X-Forwarded-For": "198.51.100.1"}
        assert (await auth.http.post("/v1/auth/login", json=body, headers=old_home)).is_success
        auth.clock.advance(31 * 24 * 3600)
        wrong = {**body, "password": "wrong"}
        for n in range(2):
            headers = {"X-Forwarded-For": f"203.0.113.{n}"}
            await auth.http.post("/v1/auth/login", json=wrong, headers=headers)

        refused = await auth.http.post("/v1/auth/login", json=body, headers=old_home)

        assert refused.status_code == 429


async def test_refreshes_are_rate_limited_per_ip_with_an_rfc6749_answer(settings: Settings) -> None:
    async with running(settings, REFRESH_RATE_LIMIT_PER_IP="2/minute") as auth:
        statuses = []
        for _ in range(3):
            response = await auth.http.post(
                "/v1/auth/token",
                data={"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": "x"},
            )
            statuses.append(response.status_code)
        assert statuses == [400, 400, 429]
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        assert set(response.json()) == {"error", "error_description"}
        assert response.json()["error"] == "temporarily_unavailable"


async def test_successful_refreshes_never_count_against_the_ip(settings: Settings) -> None:
    """An office behind one address refreshes many sessions; only refused refreshes count."""
    async with running(settings, REFRESH_RATE_LIMIT_PER_IP="2/minute") as auth:
        await register(auth.http, "ada@example.com")
        token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
        for _ in range(5):
            response = await refresh_mobile(auth.http, token)
            assert response.status_code == 200, response.text
            token = response.json()["refresh_token"]


async def test_an_ip_over_the_refused_refresh_limit_is_refused_before_any_lookup(
    settings: Settings,
) -> None:
    async with running(settings, REFRESH_RATE_LIMIT_PER_IP="2/minute") as auth:
        await register(auth.http, "ada@example.com")
        token = (await mobile_login(auth.http, "ada@example.com"))["refresh_token"]
        for _ in range(3):
            await refresh_mobile(auth.http, "tsr_" + "x" * 43)

        refused = await refresh_mobile(auth.http, token)

        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "temporarily_unavailable"
        assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_a_rotated_web_token_presented_as_mobile_revokes_the_family(auth: Auth) -> None:
    # Found from outside: W0 with client_id=mobile (no cookie, no CSRF) answered "issued to
    # another client" and left the family alive, so a stolen old token could probe its session.
    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        first = browser.cookies.get("__Secure-tessera_rt") or ""
        assert (await refresh_web(browser)).status_code == 200  # W0 is used, W1 lives
        auth.clock.advance(auth.runtime.settings.REFRESH_GRACE_SECONDS + 1)

        probe = await auth.http.post(
            "/v1/auth/token",
            data={"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": first},
        )

        assert probe.json() == {"error": "invalid_grant", "error_description": REFUSED}
        assert (await refresh_web(browser)).status_code == 400  # W1 died with its family
        assert "session.reuse_detected" in await auth.audit_events()


async def test_every_refused_refresh_token_gets_the_same_answer(auth: Auth) -> None:
    mobile = await mobile_login(auth.http, "ada@example.com")
    rotated = mobile["refresh_token"]
    live = (await refresh_mobile(auth.http, rotated)).json()["refresh_token"]
    async with auth.browser() as browser:
        await web_login(browser, "ada@example.com")
        web_token = browser.cookies.get("__Secure-tessera_rt") or ""

    unknown = await refresh_mobile(auth.http, "tsr_" + "A" * 43)
    other_client = await refresh_mobile(auth.http, web_token)  # a live web token, as mobile
    auth.clock.advance(auth.runtime.settings.REFRESH_GRACE_SECONDS + 1)
    reused = await refresh_mobile(auth.http, rotated)
    after_reuse = await refresh_mobile(auth.http, live)

    answers = {(r.status_code, r.text) for r in (unknown, other_client, reused, after_reuse)}
    assert answers == {(400, '{"error":"invalid_grant","error_description":"' + REFUSED + '"}')}


async def test_with_redis_unreachable_login_and_refresh_go_on_and_say_so_in_the_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # Rate limits fail open (threat model): losing Redis must not take login down with it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nothing_there = probe.getsockname()[1]
    async with running(settings, REDIS_URL=f"redis://127.0.0.1:{nothing_there}/0") as auth:
        await register(auth.http, "ada@example.com")
        login = await auth.http.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD, "client_id": "mobile"},
        )
        refreshed = await auth.http.post(
            "/v1/auth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "mobile",
                "refresh_token": login.json()["refresh_token"],
            },
        )

    assert login.status_code == 200
    assert refreshed.status_code == 200
    assert "rate limiter unavailable" in caplog.text
