"""Demo step of passkeys (DESIGN §11): the user adds one, signs in with it and no password, and
a phishing page's relayed challenge is refused.

The browser's platform authenticator is played by `SoftwarePasskey` (the dev tools' test
authenticator): it answers auth's WebAuthn options with the JSON `navigator.credentials` would
give the SPA, and signs, as a browser does, the origin of the page that asked. The SPA is served
at the platform's issuer (`DemoTarget.browser_origin`), which is also where auth's settings put
the relying party (RP ID: the issuer's host, origin: the issuer's), never a request's header.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from tessera.tokens.step_up import ACR_PHR

from tessera_dev.demo_context import DemoContext, expect
from tessera_dev.demo_narration import (
    FeatureUnavailableError,
    UnexpectedOutcomeError,
    access_token_claims,
    describe_authentication,
    describe_client_data,
    fingerprint,
)
from tessera_dev.demo_narration import set_cookie_summary as cookies_of
from tessera_dev.software_passkey import SoftwarePasskey

LOGIN = "/v1/auth/login"
CSRF = "/v1/auth/csrf"
PASSKEYS = "/v1/users/me/passkeys"
PASSKEY_OPTIONS = "/v1/auth/passkey/options"
PASSKEY_LOGIN = "/v1/auth/passkey/login"
SIGN_IN_REFUSED = "urn:tessera:problem:passkey-sign-in-refused"
PHISHING_ORIGIN = "https://tessera.example.evil"
"""A look-alike site that relays auth's challenge to the user and the answer back to auth."""
PASSKEY_NAME = "Demo laptop (software authenticator)"


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def sign_in_with_passkey(ctx: DemoContext) -> str:
    state = ctx.state
    ctx.require(state.email if state.verified else "", "a verified address")
    token, how = _recent_sign_in(ctx)
    origin = ctx.target.browser_origin
    bearer = ctx.bearer(token)

    created = expect(ctx.browser.post(f"{PASSKEYS}/options", headers=bearer), 200, "passkeys")
    creation = created.json()["publicKey"]
    ctx.say.http(created, f"the signed-in user adds a passkey ({how})")
    rp_id = str(creation["rp"]["id"])
    ctx.say.detail(
        f"rp.id={rp_id} challenge={fingerprint(creation['challenge'])} "
        f"residentKey={creation['authenticatorSelection'].get('residentKey')} "
        f"userVerification={creation['authenticatorSelection'].get('userVerification')} "
        f"excludeCredentials={len(creation.get('excludeCredentials') or [])}"
    )
    if rp_id != urlsplit(origin).hostname:
        raise FeatureUnavailableError(
            f"this platform's passkeys are for {rp_id} (its issuer's host), the demo's browser "
            f"is at {origin}: pass --base-url with the issuer's origin"
        )
    passkey = SoftwarePasskey(origin=origin)
    credential = passkey.register(creation)
    ctx.say.detail(
        f"the authenticator (for the browser at {origin}) makes a P-256 key pair for {rp_id}: "
        f"credential {fingerprint(passkey.id)}, {describe_client_data(credential)}"
    )
    body = {
        "challenge_id": created.json()["challenge_id"],
        "credential": credential,
        "name": PASSKEY_NAME,
    }
    stored = expect(ctx.browser.post(PASSKEYS, json=body, headers=bearer), 201, "passkeys")
    added = stored.json()
    ctx.say.http(
        stored,
        f'name="{added["name"]}" synced={added["synced"]} flagged={added["flagged"]}: auth '
        "keeps the public key only (and mails the owner a notice)",
    )
    state.passkey = passkey

    csrf = expect(ctx.browser.get(CSRF), 200, "the CSRF endpoint")
    ctx.say.http(csrf, "the SPA signs in again, no password: first a pre-login CSRF token")
    options = expect(ctx.browser.post(PASSKEY_OPTIONS), 200, "passkey sign-in")
    request = options.json()["publicKey"]
    ctx.say.http(
        options,
        f"rpId={request.get('rpId')} allowCredentials={len(request.get('allowCredentials') or [])}"
        " (any passkey of this site: no email asked)",
    )
    assertion = passkey.sign_in(request)
    ctx.say.detail(f"the authenticator signs: {describe_client_data(assertion)}")
    login = {
        "challenge_id": options.json()["challenge_id"],
        "credential": assertion,
        "client_id": "web",
    }
    answer = ctx.browser.post(PASSKEY_LOGIN, json=login, headers=ctx.csrf_header())
    ctx.say.http(expect(answer, 200, "passkey sign-in"), "client_id=web, X-CSRF-Token echoed")
    ctx.say.details(f"Set-Cookie: {c}" for c in cookies_of(answer))
    if "refresh_token" in answer.json():
        raise UnexpectedOutcomeError("a passkey sign-in returned the refresh token in the body")
    access = answer.json()["access_token"]
    ctx.say.token("access token ", access)
    claims = access_token_claims(access)
    ctx.say.detail(describe_authentication(claims))
    amr = set(claims.get("amr") or ())
    if claims.get("acr") != ACR_PHR or not {"hwk", "mfa"} <= amr or "pwd" in amr:
        raise UnexpectedOutcomeError(
            f"a passkey sign-in says acr={claims.get('acr')} amr={claims.get('amr')}"
        )
    if claims.get("sub") != state.user_id or claims.get("client_id") != "web":
        raise UnexpectedOutcomeError("the passkey signed in someone else, or not on the web")

    refused = _phishing_attempt(ctx, passkey)
    listed = expect(ctx.browser.get(PASSKEYS, headers=ctx.bearer(access)), 200, "passkeys")
    items = listed.json()["items"]
    ctx.say.http(listed, "the user's passkeys, asked with the passkey's session")
    ctx.say.table(("NAME", "LAST USED", "FLAGGED"), [_passkey_row(item) for item in items])
    if len(items) != 1 or items[0]["flagged"] or not items[0]["last_used_at"]:
        raise UnexpectedOutcomeError(f"after the sign-in and the refusal the passkeys are {items}")
    return (
        f"a passkey signed the user in with no password at acr {ACR_PHR} "
        f"(amr {','.join(claims['amr'])}); its answer on a phishing page was refused ({refused})"
    )


def _passkey_row(item: dict[str, Any]) -> tuple[str, str, str]:
    used = item.get("last_used_at")
    ago = f"{time.time() - datetime.fromisoformat(used).timestamp():.0f} s ago" if used else "-"
    return str(item["name"]), ago, "yes" if item["flagged"] else "no"


def _recent_sign_in(ctx: DemoContext) -> tuple[str, str]:
    """An access token whose session signed in within 5 minutes (adding a passkey needs one):
    the two-step sign-in of the step before, else a password sign-in (two-step not in this
    build)."""
    state = ctx.state
    if state.mfa_access:
        ago = time.time() - access_token_claims(state.mfa_access)["auth_time"]
        return state.mfa_access, f"the sign-in with password and code, {ago:.0f} s ago"
    body = {"email": state.email, "password": state.password, "client_id": "mobile"}
    login = expect(ctx.mobile.post(LOGIN, json=body), 200, "login")
    ctx.say.http(login, "a fresh sign-in (adding a passkey needs one within 5 minutes)")
    return str(login.json()["access_token"]), "a sign-in just now"


def _phishing_attempt(ctx: DemoContext, passkey: SoftwarePasskey) -> str:
    """A look-alike site relays a fresh challenge of auth's; the user's authenticator answers it
    there. Auth refuses: the answer names the page it was made on."""
    with httpx.Client(
        base_url=ctx.target.base_url,
        timeout=30,
        headers={"User-Agent": "phishing-proxy/1.0 (tessera-demo)"},
    ) as proxy:
        expect(proxy.get(CSRF), 200, "the CSRF endpoint")
        options = expect(proxy.post(PASSKEY_OPTIONS), 200, "passkey sign-in")
        ctx.say.http(
            options, f"a phishing page at {PHISHING_ORIGIN} fetches auth's options, as a proxy"
        )
        genuine_origin, passkey.origin = passkey.origin, PHISHING_ORIGIN
        try:
            assertion = passkey.sign_in(options.json()["publicKey"])
        finally:
            passkey.origin = genuine_origin
        ctx.say.detail(
            "the same authenticator answers on that page (a browser would not even offer it: "
            f"{options.json()['publicKey'].get('rpId')} is not that page's domain)"
        )
        ctx.say.detail(f"the signed answer says: {describe_client_data(assertion)}")
        csrf = {
            "X-CSRF-Token": next(
                (c.value or "" for c in proxy.cookies.jar if c.name == "tessera_csrf"), ""
            )
        }
        relayed = {
            "challenge_id": options.json()["challenge_id"],
            "credential": assertion,
            "client_id": "web",
        }
        refused = proxy.post(PASSKEY_LOGIN, json=relayed, headers=csrf)
        problem = _problem(refused)
        ctx.say.http(refused, f"the phisher relays it to auth: type={problem.get('type')}")
        if refused.status_code != 401 or problem.get("type") != SIGN_IN_REFUSED:
            raise UnexpectedOutcomeError(
                f"an answer signed for {PHISHING_ORIGIN} got {refused.status_code}"
            )
        if "access_token" in problem or refused.headers.get_list("set-cookie"):
            raise UnexpectedOutcomeError("the refused passkey answer got a token or cookies")
        ctx.say.detail(
            f"auth expects origin {ctx.target.browser_origin} and RP ID "
            f"{urlsplit(ctx.target.browser_origin).hostname} from its settings (not from the "
            "request): the signature covers the origin, so the phisher can neither change "
            "it nor reuse the answer"
        )
    return f"401 for origin {PHISHING_ORIGIN}"
