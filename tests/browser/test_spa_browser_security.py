"""What a browser lets script and other sites do with the SPA's session: as little as possible.

- The refresh token is an HttpOnly, SameSite=Strict cookie scoped to /v1/auth: script never
  sees it.
- The access token lives in a JavaScript variable: nothing in localStorage, sessionStorage or
  IndexedDB.
- A page on another origin can neither refresh nor end the session (CSRF), with a form (cookies
  attached when it is same-site) or with fetch, and gets no CORS grant to read anything.

The SPA is at `http://localhost:<gateway port>` (its platform's issuer). The attacker is a page on
another loopback port: `localhost:<other port>` is same-site with the SPA (cookies go along, and
it can even read the CSRF cookie, as cookies ignore ports), and `127.0.0.1:<other port>` is
cross-site.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page

if TYPE_CHECKING:
    from tests.browser.conftest import ApiTraffic, Spa

SUBMIT_FORM = """({ action, fields }) => {
  const form = document.createElement("form");
  form.method = "POST";
  form.action = action;
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement("input");
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}"""

FETCH_WITH_COOKIES = """async ({ url, body, bearer }) => {
  const csrf = (document.cookie.match(/(?:^|; )tessera_csrf=([^;]*)/) || [])[1] || "guess";
  const headers = { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf };
  if (bearer) headers.Authorization = "Bearer " + bearer;
  try {
    const response = await fetch(url, { method: "POST", credentials: "include", headers, body });
    return "answered " + response.status + ": " + (await response.text());
  } catch (error) {
    return "blocked: " + error.name;
  }
}"""


def _login_answer(page: Page, spa: Spa) -> dict[str, Any]:
    with page.expect_response(lambda r: r.url == f"{spa.url}/v1/auth/login") as login:
        spa.register(page)
    body: dict[str, Any] = login.value.json()
    return body


def test_the_refresh_cookie_is_http_only_strict_and_scoped_to_the_auth_endpoints(
    spa: Spa, context: BrowserContext, page: Page
) -> None:
    spa.register(page)

    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    refresh_cookie = cookies["tessera_rt"]
    assert refresh_cookie["httpOnly"] is True
    assert refresh_cookie["sameSite"] == "Strict"
    assert refresh_cookie["path"] == "/v1/auth"
    # The documented dev exception: plain http on loopback, so no Secure flag and no __Secure-
    # prefix; over https the cookie is __Secure-tessera_rt with Secure.
    assert refresh_cookie["secure"] is False
    csrf_cookie = cookies["tessera_csrf"]
    assert csrf_cookie["httpOnly"] is False
    assert csrf_cookie["sameSite"] == "Strict"
    assert csrf_cookie["path"] == "/"

    readable = page.evaluate("document.cookie")
    assert "tessera_rt" not in readable
    assert refresh_cookie["value"] not in readable
    assert f"tessera_csrf={csrf_cookie['value']}" in readable


def test_no_token_is_kept_in_web_storage(spa: Spa, context: BrowserContext, page: Page) -> None:
    access_token = _login_answer(page, spa)["access_token"]
    spa.place_order(page, "STORAGE-CHECK", 1, "1.00")
    page.reload()
    spa.expect_screen(page, "orders")

    stored = page.evaluate(
        """async () => ({
          local: JSON.stringify({ ...localStorage }),
          session: JSON.stringify({ ...sessionStorage }),
          databases: (await indexedDB.databases()).map((database) => database.name),
          caches: await caches.keys(),
        })"""
    )
    refresh_token = next(c["value"] for c in context.cookies() if c["name"] == "tessera_rt")
    assert stored == {"local": "{}", "session": "{}", "databases": [], "caches": []}
    for token in (access_token, refresh_token):
        assert token not in page.evaluate("document.cookie")


@pytest.mark.parametrize(
    "attacker_host", ["localhost", "127.0.0.1"], ids=["same-site", "cross-site"]
)
def test_a_page_on_another_origin_cannot_refresh_or_log_out_the_user(
    spa: Spa,
    context: BrowserContext,
    page: Page,
    attacker_server: int,
    attacker_host: str,
    watch_api: Callable[[Page], ApiTraffic],
) -> None:
    spa.register(page)
    attacker = context.new_page()
    attacker_origin = f"http://{attacker_host}:{attacker_server}"
    attempts = {
        "/v1/auth/token": {"grant_type": "refresh_token", "client_id": "web"},
        "/v1/auth/logout": {},
    }

    for path, fields in attempts.items():
        attacker.goto(f"{attacker_origin}/")
        with attacker.expect_response(f"{spa.url}{path}") as answer:
            attacker.evaluate(SUBMIT_FORM, {"action": f"{spa.url}{path}", "fields": fields})
        assert answer.value.status >= 400, f"form POST {path}: {answer.value.status}"
        assert "access_token" not in answer.value.text()

        attacker.goto(f"{attacker_origin}/")
        outcome = attacker.evaluate(
            FETCH_WITH_COOKIES,
            {"url": f"{spa.url}{path}", "body": "grant_type=refresh_token&client_id=web"},
        )
        assert outcome == "blocked: TypeError", f"fetch POST {path}: {outcome}"

    traffic = watch_api(page)
    page.reload()
    spa.expect_screen(page, "orders")
    assert traffic.refreshes() == [200], "the user's session did not survive the attempts"


def test_a_disallowed_origin_gets_no_cors_grant(
    spa: Spa, context: BrowserContext, page: Page, attacker_server: int
) -> None:
    access_token = _login_answer(page, spa)["access_token"]
    attacker_origin = f"http://localhost:{attacker_server}"
    attacker = context.new_page()
    attacker.goto(f"{attacker_origin}/")

    outcome = attacker.evaluate(
        FETCH_WITH_COOKIES, {"url": f"{spa.url}/v1/orders", "body": "", "bearer": access_token}
    )
    assert outcome == "blocked: TypeError"

    with httpx.Client(base_url=spa.url, timeout=10) as client:
        for path in ("/v1/auth/token", "/v1/auth/logout", "/v1/users/me", "/v1/orders"):
            preflight = client.options(
                path,
                headers={
                    "Origin": attacker_origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, x-csrf-token",
                },
            )
            plain = client.get(path, headers={"Origin": attacker_origin})
            # The grant is Access-Control-Allow-Origin: without it a browser exposes nothing,
            # whatever else the answer says (Starlette adds Access-Control-Allow-Credentials to
            # every answer, which grants nothing on its own).
            assert preflight.status_code >= 400, path
            for answer in (preflight, plain):
                assert "access-control-allow-origin" not in answer.headers, (path, answer.headers)


def test_the_spa_runs_under_the_gateways_content_security_policy(spa: Spa, page: Page) -> None:
    problems: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", note)
    page.on("pageerror", lambda error: problems.append(str(error)))
    spa.register(page)
    spa.place_order(page, "CSP-CHECK", 1, "1.00")
    spa.go(page, "sessions")

    csp = page.evaluate("async () => (await fetch('/')).headers.get('content-security-policy')")
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert problems == []
