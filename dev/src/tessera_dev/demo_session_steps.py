"""Demo steps about sessions (DESIGN §3, §7): sign-up, the two logins, the device list, rotation,
the grace window and theft detection. Each returns the outcome it checked, or raises
`UnexpectedOutcomeError` / `FeatureUnavailableError`.
"""

from __future__ import annotations

import secrets
import time

from tessera_dev.demo_context import DemoContext, expect, oauth_error, seconds_until
from tessera_dev.demo_narration import (
    FeatureUnavailableError,
    UnexpectedOutcomeError,
    access_token_claims,
    fingerprint,
)
from tessera_dev.demo_narration import set_cookie_summary as cookies_of

ORDERS = "/v1/orders"


def register(ctx: DemoContext) -> str:
    state = ctx.state
    state.email = f"demo-{secrets.token_hex(4)}@example.org"
    state.password = f"demo-{secrets.token_urlsafe(12)}"
    answer = ctx.mobile.post("/v1/users", json={"email": state.email, "password": state.password})
    ctx.say.http(expect(answer, 202, "registration"), f"email={state.email}")
    ctx.say.detail(f"status={answer.json()['status']}: the same answer if the address were taken")
    taken = ctx.mobile.post("/v1/users", json={"email": state.email, "password": state.password})
    ctx.say.http(taken, "registering the same address again: nothing tells it apart")
    if (taken.status_code, taken.json()) != (answer.status_code, answer.json()):
        raise UnexpectedOutcomeError("registration told a taken address from a new one")
    return f"registered {state.email} (a verification mail is on its way)"


def login_mobile(ctx: DemoContext) -> str:
    state = ctx.state
    ctx.require(state.email, "a registered user")
    body = {"email": state.email, "password": state.password, "client_id": "mobile"}
    answer = expect(ctx.mobile.post("/v1/auth/login", json=body), 200, "login")
    ctx.say.http(answer, "client_id=mobile")
    tokens = answer.json()
    state.mobile_access, state.mobile_refresh = tokens["access_token"], tokens["refresh_token"]
    ctx.say.token("access token ", state.mobile_access)
    ctx.say.detail(f"refresh token {fingerprint(state.mobile_refresh)} (opaque, in the body)")
    claims = access_token_claims(state.mobile_access)
    me = expect(ctx.mobile.get("/v1/users/me", headers=ctx.bearer(state.mobile_access)), 200, "me")
    state.user_id = me.json()["id"]
    ctx.say.detail(f"user id {state.user_id} (every token's `sub`)")
    if claims["sub"] != state.user_id or claims["client_id"] != "mobile" or not claims.get("sid"):
        raise UnexpectedOutcomeError(f"unexpected claims for a mobile login: {sorted(claims)}")
    if not state.mobile_refresh.startswith("tsr_"):
        raise UnexpectedOutcomeError("the refresh token lacks its tsr_ prefix")
    return f"mobile session {claims['sid']} started (refresh token in the body)"


def login_web(ctx: DemoContext) -> str:
    state = ctx.state
    ctx.require(state.user_id, "a registered user")
    csrf = expect(ctx.browser.get("/v1/auth/csrf"), 200, "the CSRF endpoint")
    ctx.say.http(csrf, "a pre-login CSRF token (login CSRF defence)")
    ctx.say.details(f"Set-Cookie: {c}" for c in cookies_of(csrf))
    body = {"email": state.email, "password": state.password, "client_id": "web"}
    answer = ctx.browser.post("/v1/auth/login", json=body, headers=ctx.csrf_header())
    ctx.say.http(expect(answer, 200, "web login"), "client_id=web, X-CSRF-Token echoed")
    set_cookies = cookies_of(answer)
    ctx.say.details(f"Set-Cookie: {c}" for c in set_cookies)
    if "refresh_token" in answer.json():
        raise UnexpectedOutcomeError("web login returned the refresh token in the body")
    refresh_cookie = next((c for c in set_cookies if c.startswith(("tessera_rt", "__Sec"))), "")
    if "httponly" not in refresh_cookie.lower() or "path=/v1/auth" not in refresh_cookie.lower():
        raise UnexpectedOutcomeError(
            f"the refresh cookie is not HttpOnly with Path=/v1/auth: {refresh_cookie}"
        )
    state.web_access = answer.json()["access_token"]
    ctx.say.token("access token ", state.web_access)

    bare = {"grant_type": "refresh_token", "client_id": "web"}
    forged = ctx.browser.post("/v1/auth/token", data=bare)
    ctx.say.http(forged, "a cookie refresh WITHOUT the CSRF header (as a forged request would)")
    if forged.status_code not in (400, 403):
        raise UnexpectedOutcomeError(
            f"a cookie refresh without CSRF was answered {forged.status_code}"
        )
    refreshed = expect(ctx.refresh_web(), 200, "cookie refresh")
    ctx.say.http(refreshed, "the same refresh with X-CSRF-Token: new cookie, new access token")
    state.web_access = refreshed.json()["access_token"]
    return "web session started: refresh token only in an HttpOnly cookie, CSRF enforced"


def list_sessions(ctx: DemoContext) -> str:
    token = ctx.require(ctx.state.mobile_access, "the mobile login")
    answer = expect(ctx.mobile.get("/v1/sessions", headers=ctx.bearer(token)), 200, "sessions API")
    ctx.say.http(answer, "asked by the mobile app")
    items = answer.json()["items"]
    ctx.say.table(
        ("CLIENT", "ID", "IP", "USER AGENT", "CURRENT"),
        [
            (
                item["client_id"],
                item["id"],
                item.get("ip") or "-",
                str(item.get("user_agent") or "-")[:40],
                "*" if item.get("current") else "",
            )
            for item in items
        ],
    )
    clients = sorted(item["client_id"] for item in items)
    if clients != ["mobile", "web"]:
        raise UnexpectedOutcomeError(f"expected one mobile and one web session, got {clients}")
    current = [i["client_id"] for i in items if i.get("current")]
    if current != ["mobile"]:
        raise UnexpectedOutcomeError(f"expected the mobile session marked current, got {current}")
    return "two sessions listed: mobile (current) and web"


def refresh(ctx: DemoContext) -> str:
    state = ctx.state
    presented = ctx.require(state.mobile_refresh, "the mobile login")
    before = access_token_claims(state.mobile_access)
    answer = expect(ctx.refresh_mobile(presented), 200, "the refresh grant")
    ctx.say.http(answer, f"refresh_token={fingerprint(presented)}")
    tokens = answer.json()
    ctx.say.detail(f"Cache-Control: {answer.headers.get('cache-control')}")
    ctx.say.detail(f"new refresh token {fingerprint(tokens['refresh_token'])}")
    ctx.say.token("new access token ", tokens["access_token"])
    after = access_token_claims(tokens["access_token"])
    if tokens["refresh_token"] == presented:
        raise UnexpectedOutcomeError("the refresh token was not rotated")
    if after["sid"] != before["sid"]:
        raise UnexpectedOutcomeError(
            "a refresh started a new session instead of continuing the family"
        )
    state.mobile_access, state.mobile_refresh = tokens["access_token"], tokens["refresh_token"]
    return f"rotated: a new refresh token, the same sid {after['sid']}"


def lost_response_retry(ctx: DemoContext) -> str:
    state = ctx.state
    parent = ctx.require(state.mobile_refresh, "the mobile login")
    if ctx.target.grace_seconds <= 0:
        raise FeatureUnavailableError("the grace window is disabled (REFRESH_GRACE_SECONDS=0)")
    first = expect(ctx.refresh_mobile(parent), 200, "the refresh grant")
    ctx.say.http(first, f"refresh_token={fingerprint(parent)}; pretend the response is lost")
    successor = first.json()["refresh_token"]
    retried = expect(ctx.refresh_mobile(parent), 200, "the grace window")
    ctx.say.http(retried, f"the app retries with the same {fingerprint(parent)}")
    again = retried.json()["refresh_token"]
    ctx.say.detail(f"first successor {fingerprint(successor)}, retry got {fingerprint(again)}")
    if again != successor:
        raise UnexpectedOutcomeError(
            "the retry got a different successor: the family has two live tokens"
        )
    state.mobile_access, state.mobile_refresh = retried.json()["access_token"], again
    window = ctx.target.grace_seconds
    return f"the SAME successor came back inside the {window:g} s grace window (no new branch)"


def stolen_token_replayed(ctx: DemoContext) -> str:
    state = ctx.state
    stolen = ctx.require(state.mobile_refresh, "the mobile login")
    ctx.say.detail(f"a thief copies the app's refresh token {fingerprint(stolen)}")
    rotated = expect(ctx.refresh_mobile(stolen), 200, "the refresh grant")
    ctx.say.http(rotated, "the app refreshes as usual (rotation)")
    holder_refresh, holder_access = rotated.json()["refresh_token"], rotated.json()["access_token"]
    if ctx.status_at(ORDERS, holder_access) != 200:
        raise UnexpectedOutcomeError("the app's fresh access token is not accepted by orders")
    wait = ctx.target.grace_seconds + 0.5
    ctx.say.detail(f"waiting {wait:g} s: past the {ctx.target.grace_seconds:g} s grace window")
    time.sleep(wait)

    replay = ctx.refresh_mobile(stolen)
    ctx.say.http(replay, f"the thief replays {fingerprint(stolen)}: error={oauth_error(replay)}")
    if replay.status_code != 400 or oauth_error(replay) != "invalid_grant":
        raise UnexpectedOutcomeError(
            f"a replayed rotated token got {replay.status_code} {replay.text[:200]}"
        )
    delay = seconds_until(
        lambda: ctx.status_at(ORDERS, holder_access) == 401, ctx.target.propagation_bound
    )
    ctx.say.detail(f"orders rejects the app's access token (401) {delay:.2f} s after the replay")
    holder = ctx.refresh_mobile(holder_refresh)
    ctx.say.http(holder, f"the app's own next refresh: error={oauth_error(holder)}")
    if holder.status_code != 400 or oauth_error(holder) != "invalid_grant":
        raise UnexpectedOutcomeError(f"the revoked family's live token got {holder.status_code}")
    state.mobile_access = state.mobile_refresh = ""
    return (
        "reuse detected: family revoked, thief and app both get invalid_grant; "
        f"orders rejected the app's access token {delay:.2f} s after the replay"
    )
