"""Demo steps across the services (DESIGN §4, §5, §6): an order charged over gRPC through token
exchange, logout-all reaching orders and billing, and a signing-key rotation under traffic.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid

from tessera_mobile.money import format_money

from tessera_dev.demo_context import DemoContext, expect, oauth_error, seconds_until
from tessera_dev.demo_narration import (
    FeatureUnavailableError,
    UnexpectedOutcomeError,
    access_token_claims,
    fingerprint,
)
from tessera_dev.grants import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE
from tessera_dev.processes import child_environment, local_argv

ORDERS = "/v1/orders"
INVOICES = "/v1/invoices"
ORDER = {
    "items": [
        {"sku": "TESSERA-MUG", "quantity": 2, "unit_price_cents": 1250},
        {"sku": "TESSERA-TEE", "quantity": 1, "unit_price_cents": 1999},
    ],
    "currency": "EUR",
}
ROTATION_BOUND_SECONDS = 60.0
ROTATION_WAIT_LIMIT_SECONDS = 90.0
"""How long the demo waits for the next key to be old enough to sign (JWKS max-age after auth
published it: a few seconds on the demo's own platform, up to 5 minutes after `make run`)."""
EXIT_NOT_READY = 3  # `keys rotate --no-wait`: the next key is still too young


def create_order(ctx: DemoContext) -> str:
    token = ctx.require(ctx.state.mobile_access, "the mobile login")
    headers = {**ctx.bearer(token), "Idempotency-Key": str(uuid.uuid4())}
    answer = expect(ctx.mobile.post(ORDERS, json=ORDER, headers=headers), 201, "orders")
    order = answer.json()
    total = format_money(order["total_cents"], order["currency"])
    ctx.say.http(answer, f"status={order['status']} total={total}")
    if order["status"] != "paid" or not order.get("invoice_id"):
        raise UnexpectedOutcomeError(f"the order was not charged: status {order['status']}")
    _show_exchanged_token(ctx, token)
    invoice_answer = ctx.mobile.get(f"{INVOICES}/{order['invoice_id']}", headers=ctx.bearer(token))
    invoice = expect(invoice_answer, 200, "billing's invoices API").json()
    ctx.say.http(
        invoice_answer,
        f"invoice for order {invoice['order_id']}: "
        f"{format_money(invoice['amount_cents'], invoice['currency'])}, user {invoice['user_id']}",
    )
    if invoice["user_id"] != ctx.state.user_id or invoice["amount_cents"] != order["total_cents"]:
        raise UnexpectedOutcomeError(
            "billing's invoice does not name the user or the order's amount"
        )
    ctx.state.order = order
    return f"order {order['id']} paid; billing's invoice {invoice['id']} belongs to the user"


def _show_exchanged_token(ctx: DemoContext, user_token: str) -> None:
    """Do what orders did for the Charge call (RFC 8693), to show the token billing received."""
    ctx.say.detail("orders → billing (gRPC Charge): orders exchanged the user's token at auth")
    secret = ctx.target.orders_client_secret
    if secret is None:
        ctx.say.detail("(the exchanged token stays inside the platform; --start shows one)")
        return
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": user_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "audience": "billing",
    }
    answer = ctx.mobile.post("/v1/auth/token", data=form, auth=("orders", secret))
    if answer.status_code != 200:
        raise UnexpectedOutcomeError(f"token exchange as orders answered {answer.status_code}")
    exchanged = answer.json()["access_token"]
    ctx.say.token("  the same exchange, as orders:", exchanged)
    claims = access_token_claims(exchanged)
    user = access_token_claims(user_token)
    if claims.get("act", {}).get("sub") != "orders" or claims["aud"] not in (
        "billing",
        ["billing"],
    ):
        raise UnexpectedOutcomeError(
            "the exchanged token does not name orders as the actor for billing"
        )
    if (claims["sub"], claims["sid"]) != (user["sub"], user["sid"]):
        raise UnexpectedOutcomeError("the exchanged token does not carry the user's sub and sid")


def logout_all(ctx: DemoContext) -> str:
    state = ctx.state
    web_token = ctx.require(state.web_access, "the web login")
    body = {"email": state.email, "password": state.password, "client_id": "mobile"}
    login = expect(ctx.mobile.post("/v1/auth/login", json=body), 200, "login")
    ctx.say.http(login, "the app signs in again (its old session was revoked)")
    mobile_token = login.json()["access_token"]
    checks = {
        "orders  (mobile token)": (ORDERS, mobile_token),
        "billing (mobile token)": (INVOICES, mobile_token),
        "orders  (web token)   ": (ORDERS, web_token),
        "billing (web token)   ": (INVOICES, web_token),
    }
    for label, (path, token) in checks.items():
        if (status := ctx.status_at(path, token)) != 200:
            raise UnexpectedOutcomeError(f"before logout-all, {label.strip()} answered {status}")
    ctx.say.detail("before: orders and billing accept both access tokens (200)")
    answer = expect(
        ctx.mobile.post("/v1/auth/logout-all", headers=ctx.bearer(mobile_token)), 204, "logout-all"
    )
    ctx.say.http(answer, "bumps the user's token version; one `user` revocation event")
    started = time.monotonic()
    pending = dict(checks)
    delays: dict[str, float] = {}

    def all_rejected() -> bool:
        for label, (path, token) in list(pending.items()):
            if ctx.status_at(path, token) == 401:
                delays[label] = time.monotonic() - started
                del pending[label]
        return not pending

    seconds_until(all_rejected, ctx.target.propagation_bound)
    for label, delay in delays.items():
        ctx.say.detail(f"{label} → 401 after {delay:.3f} s")
    web = ctx.refresh_web()
    ctx.say.http(web, f"the browser's cookie refresh: error={oauth_error(web)}")
    if web.status_code != 400 or oauth_error(web) != "invalid_grant":
        raise UnexpectedOutcomeError(f"the web session survived logout-all ({web.status_code})")
    slowest = max(delays.values())
    verdict = "within a second" if slowest < 1.0 else "SLOWER than a second (a busy machine?)"
    return f"logout-all reached orders and billing in {slowest:.3f} s ({verdict})"


def _auth_cli(ctx: DemoContext, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = ctx.target.auth_environment
    assert environment is not None
    return subprocess.run(  # noqa: S603 - auth's own CLI
        local_argv(("python", "-m", "auth_service", *arguments)),
        env=child_environment(environment),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=ROTATION_WAIT_LIMIT_SECONDS + 60,
        check=False,
    )


def rotate_keys(ctx: DemoContext) -> str:
    state = ctx.state
    ctx.require(state.user_id, "a registered user")
    if ctx.target.auth_environment is None:
        raise FeatureUnavailableError(
            "key rotation needs auth's database: run with --start or against make run"
        )
    body = {"email": state.email, "password": state.password, "client_id": "mobile"}
    login = expect(ctx.mobile.post("/v1/auth/login", json=body), 200, "login")
    old_token, refresh_token = login.json()["access_token"], login.json()["refresh_token"]
    old_kid = access_token_claims(old_token)["kid"]
    ctx.say.http(login, f"a fresh session signs with kid {old_kid[:10]}…")

    rotated = _auth_cli(ctx, "keys", "rotate", "--no-wait")
    if rotated.returncode == EXIT_NOT_READY:
        wait = re.search(r"\(in (\d+) s\)", rotated.stderr)
        seconds = float(wait.group(1)) if wait else ROTATION_WAIT_LIMIT_SECONDS + 1
        if seconds > ROTATION_WAIT_LIMIT_SECONDS:
            raise FeatureUnavailableError(rotated.stderr.strip().splitlines()[-1])
        ctx.say.detail(
            f"the next key was published too recently for every verifier to hold it; "
            f"keys rotate waits {seconds:.0f} s for that"
        )
        rotated = _auth_cli(ctx, "keys", "rotate")
    ctx.say.detail(f"$ python -m auth_service keys rotate → exit {rotated.returncode}")
    ctx.say.details(f"  {line}" for line in rotated.stdout.splitlines()[-5:])
    if rotated.returncode != 0:
        raise UnexpectedOutcomeError(f"keys rotate failed: {rotated.stderr.strip()[-300:]}")

    requests = failures = 0
    new_token = old_token
    deadline = time.monotonic() + ROTATION_BOUND_SECONDS
    while access_token_claims(new_token)["kid"] == old_kid:
        if time.monotonic() > deadline:
            raise UnexpectedOutcomeError(
                f"no token signed with a new key after {ROTATION_BOUND_SECONDS:.0f} s"
            )
        answer = expect(ctx.refresh_mobile(refresh_token), 200, "the refresh grant")
        new_token, refresh_token = answer.json()["access_token"], answer.json()["refresh_token"]
        for path in (ORDERS, INVOICES):
            for token in {old_token, new_token}:
                requests += 1
                failures += ctx.status_at(path, token) != 200
        time.sleep(0.2)
    for path in (ORDERS, INVOICES):
        for token in (old_token, new_token):
            requests += 1
            failures += ctx.status_at(path, token) != 200
    new_kid = access_token_claims(new_token)["kid"]
    ctx.say.token("new access token", new_token)
    ctx.say.detail(f"old token {fingerprint(old_token)} (kid {old_kid[:10]}…) still accepted")
    ctx.say.detail(
        f"{requests} requests at orders and billing during the rotation, {failures} failed"
    )
    if failures:
        raise UnexpectedOutcomeError(
            f"{failures} of {requests} requests failed during the key rotation"
        )
    return f"rotated keys: new tokens carry kid {new_kid[:10]}…, old tokens still pass, 0 failures"
