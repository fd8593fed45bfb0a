"""Demo steps of the mail flows (DESIGN §11): proving the address with the mailed link, and a
forgotten password reset by mail, ending every session everywhere.

Mails are read from the platform's inbox over Mailpit's API (`tessera_dev.inbox`): the demo's
own catcher, `make run`'s on 127.0.0.1:8025, or compose's Mailpit on the same port.
"""

from __future__ import annotations

import time

import httpx

from tessera_dev.demo_context import DemoContext, expect, oauth_error, seconds_until
from tessera_dev.demo_narration import FeatureUnavailableError, UnexpectedOutcomeError
from tessera_dev.inbox import Inbox, mailed_token

MAIL_WAIT_SECONDS = 30.0
NEW_PASSWORD_SUFFIX = "-after-reset"  # noqa: S105 (appended to a generated password)


def _inbox(ctx: DemoContext) -> Inbox:
    inbox = Inbox(ctx.target.inbox_url)
    try:
        inbox.messages()
    except httpx.HTTPError as error:
        raise FeatureUnavailableError(
            f"no inbox answers at {ctx.target.inbox_url} ({type(error).__name__})"
        ) from error
    return inbox


def _mail(ctx: DemoContext, inbox: Inbox, subject: str) -> dict[str, object]:
    try:
        mail = inbox.wait_for(ctx.state.email, subject=subject, seconds=MAIL_WAIT_SECONDS)
    except TimeoutError as error:
        raise UnexpectedOutcomeError(str(error)) from error
    ctx.say.detail(f"inbox: {mail['Subject']!r} to {ctx.state.email}")
    return mail


def verify_email(ctx: DemoContext) -> str:
    state = ctx.state
    ctx.require(state.email, "a registered user")
    inbox = _inbox(ctx)
    mail = _mail(ctx, inbox, "Confirm your email address")
    token = mailed_token(mail)
    ctx.say.detail(f"the link: {ctx.target.base_url}/#/verify?token=tsv_… (single use, 24 h)")
    answer = ctx.mobile.post("/v1/users/verify-email", json={"token": token})
    ctx.say.http(expect(answer, 204, "email verification"), "the SPA posts the link's token")
    again = ctx.mobile.post("/v1/users/verify-email", json={"token": token})
    ctx.say.http(again, "the same link again")
    if again.status_code != 400:
        raise UnexpectedOutcomeError(f"a used verification link answered {again.status_code}")
    state.verified = True
    return "address verified with the mailed link; a second use is refused"


def reset_password(ctx: DemoContext) -> str:
    state = ctx.state
    ctx.require(state.email if state.verified else "", "a verified address")
    inbox = _inbox(ctx)
    body = {"email": state.email, "password": state.password, "client_id": "mobile"}
    login = expect(ctx.mobile.post("/v1/auth/login", json=body), 200, "login")
    before = login.json()
    ctx.say.http(login, "a session from before the reset (the phone the user forgot about)")
    seen = inbox.ids_for(state.email)
    asked = ctx.mobile.post("/v1/auth/password-reset", json={"email": state.email})
    ctx.say.http(
        expect(asked, 202, "password reset"), "202 whether or not the address has an account"
    )
    nobody = ctx.mobile.post("/v1/auth/password-reset", json={"email": "nobody@example.org"})
    ctx.say.http(nobody, "the same answer for an address without an account (and no mail)")
    try:
        mail = inbox.wait_for(
            state.email, subject="Reset your password", seconds=MAIL_WAIT_SECONDS, skip=seen
        )
    except TimeoutError as error:
        raise UnexpectedOutcomeError(str(error)) from error
    ctx.say.detail(f"inbox: {mail['Subject']!r} (a tsp_ link, single use, 30 minutes)")
    new_password = state.password + NEW_PASSWORD_SUFFIX
    confirm = {"token": mailed_token(mail), "new_password": new_password}
    answer = ctx.mobile.post("/v1/auth/password-reset/confirm", json=confirm)
    ctx.say.http(expect(answer, 204, "password reset"), "new password set")
    started = time.monotonic()
    delays: dict[str, float] = {}
    pending = {"orders ": "/v1/orders", "billing": "/v1/invoices"}

    def refused_everywhere() -> bool:
        for label, path in list(pending.items()):
            if ctx.status_at(path, before["access_token"]) == 401:
                delays[label] = time.monotonic() - started
                del pending[label]
        return not pending

    seconds_until(refused_everywhere, ctx.target.propagation_bound)
    for label, delay in delays.items():
        ctx.say.detail(f"{label} → 401 for the old access token after {delay:.3f} s")
    stale = ctx.refresh_mobile(before["refresh_token"])
    ctx.say.http(stale, f"the old refresh token: error={oauth_error(stale)}")
    if oauth_error(stale) != "invalid_grant":
        raise UnexpectedOutcomeError("the session from before the reset survived it")
    state.password = new_password
    relogin = ctx.mobile.post("/v1/auth/login", json={**body, "password": new_password})
    ctx.say.http(expect(relogin, 200, "login"), "signed in with the new password")
    slowest = max(delays.values())
    return f"reset by mail: the old sessions died at orders and billing in {slowest:.3f} s"
