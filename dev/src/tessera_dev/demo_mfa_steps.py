"""Demo steps of the second factor (DESIGN §11): turning on TOTP, the two-step sign-in it makes,
and a refund that asks for a recent sign-in (RFC 9470), answered with a step-up by code.

They run last (with the passkey step between them): with two-step verification on, every
later password sign-in of the demo user would need a code too, and the earlier steps show the
password flows as most users have them.
Codes are computed from the enrolment's secret, as the user's authenticator app would
(`DemoState.authenticator`).
"""

from __future__ import annotations

import time
from typing import Any

from tessera.tokens.step_up import ACR_MFA

from tessera_dev.accounts import Authenticator
from tessera_dev.demo_context import (
    TOTP_BOUNDARY_MARGIN_SECONDS,
    DemoContext,
    expect,
    narrated_code,
)
from tessera_dev.demo_narration import (
    FeatureUnavailableError,
    UnexpectedOutcomeError,
    access_token_claims,
    describe_authentication,
    fingerprint,
)

LOGIN = "/v1/auth/login"
LOGIN_MFA = "/v1/auth/login/mfa"
STEP_UP = "/v1/auth/step-up"
MFA = "/v1/users/me/mfa"
ORDERS = "/v1/orders"
INVOICES = "/v1/invoices"
MFA_REQUIRED = "urn:tessera:problem:mfa-required"
MFA_CODE_INVALID = "urn:tessera:problem:mfa-code-invalid"
RECOVERY_CODE_COUNT = 10
REFUND_WAIT_LIMIT_SECONDS = 60.0
"""The longest refund window the demo waits out; a longer one (`make run`'s default is 300 s)
skips the refund step."""


def _problem(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def turn_on_two_step(ctx: DemoContext) -> str:
    state = ctx.state
    ctx.require(state.email if state.verified else "", "a verified address")
    body = {"email": state.email, "password": state.password, "client_id": "mobile"}
    login = expect(ctx.mobile.post(LOGIN, json=body), 200, "login")
    ctx.say.http(login, "the app signs in (enrolling needs a sign-in within 5 minutes)")
    bearer = ctx.bearer(login.json()["access_token"])

    enrol = expect(ctx.mobile.post(f"{MFA}/totp", headers=bearer), 200, "two-step verification")
    enrolment = enrol.json()
    secret = enrolment["secret"]
    ctx.say.http(enrol, f"a pending secret {fingerprint(secret)} (sealed at auth under its KEK)")
    ctx.say.detail(f"otpauth_uri {enrolment['otpauth_uri'].replace(secret, '…')}")
    ctx.say.detail(
        f"qr_svg: {len(enrolment['qr_svg'])} characters of SVG, drawn by auth itself "
        "(the secret goes to no QR service)"
    )
    authenticator = Authenticator(secret, margin_seconds=TOTP_BOUNDARY_MARGIN_SECONDS)
    code, whose = narrated_code(authenticator)
    confirm = ctx.mobile.post(f"{MFA}/totp/confirm", json={"code": code}, headers=bearer)
    ctx.say.http(expect(confirm, 200, "TOTP confirmation"), f"code {code} — {whose}")
    confirmed = confirm.json()
    recovery_codes = confirmed["recovery_codes"]
    ctx.say.detail(
        f"{len(recovery_codes)} recovery codes, shown once ({fingerprint(recovery_codes[0])}, …): "
        "auth keeps only their HMACs"
    )
    raised = access_token_claims(confirmed["access_token"])
    ctx.say.detail(f"this session, raised by the code: {describe_authentication(raised)}")
    if len(recovery_codes) != RECOVERY_CODE_COUNT or raised.get("acr") != ACR_MFA:
        raise UnexpectedOutcomeError(
            f"confirming gave {len(recovery_codes)} recovery codes and acr {raised.get('acr')}"
        )
    state.authenticator = authenticator
    on = ctx.mobile.get(MFA, headers=ctx.bearer(confirmed["access_token"]))
    status = expect(on, 200, "the MFA status").json()
    ctx.say.http(on, f"totp={status['totp']} recovery_codes_left={status['recovery_codes_left']}")

    again = ctx.mobile.post(LOGIN, json=body)
    problem = _problem(again)
    ctx.say.http(again, f"signing in again, the password alone: type={problem.get('type')}")
    if again.status_code != 401 or problem.get("type") != MFA_REQUIRED:
        raise UnexpectedOutcomeError(
            f"with two-step verification on, the password alone got {again.status_code}"
        )
    if "access_token" in problem or "refresh_token" in problem or again.cookies:
        raise UnexpectedOutcomeError("the password alone got tokens or cookies")
    mfa_token = problem["mfa_token"]
    ctx.say.detail(
        f"mfa_token {fingerprint(mfa_token)} (single use, 5 minutes), "
        f"methods={','.join(problem.get('methods', []))}; no tokens, no cookies"
    )
    second_step = {"mfa_token": mfa_token, "client_id": "mobile"}
    reused = ctx.mobile.post(LOGIN_MFA, json={**second_step, "code": code})
    reused_type = _problem(reused).get("type")
    ctx.say.http(reused, f"code {code} again (it confirmed the enrolment): type={reused_type}")
    if reused.status_code != 401 or reused_type != MFA_CODE_INVALID:
        raise UnexpectedOutcomeError(f"a used code was answered {reused.status_code}")
    code, whose = narrated_code(authenticator)
    answer = ctx.mobile.post(LOGIN_MFA, json={**second_step, "code": code})
    ctx.say.http(
        expect(answer, 200, "the second step of a login"),
        f"the same mfa_token, code {code} — {whose}",
    )
    tokens = answer.json()
    ctx.say.token("access token ", tokens["access_token"])
    ctx.say.detail(f"refresh token {fingerprint(tokens['refresh_token'])} (opaque, in the body)")
    claims = access_token_claims(tokens["access_token"])
    ctx.say.detail(describe_authentication(claims))
    if claims.get("acr") != ACR_MFA or not {"pwd", "otp"} <= set(claims.get("amr") or ()):
        raise UnexpectedOutcomeError(
            f"a sign-in with password and code says acr={claims.get('acr')} amr={claims.get('amr')}"
        )
    state.mfa_access = tokens["access_token"]
    return (
        "two-step verification on: the password alone gets 401 mfa-required; "
        f"with a code, a session at acr {ACR_MFA}"
    )


def refund_needs_recent_sign_in(ctx: DemoContext) -> str:
    state = ctx.state
    order_id = ctx.require(str(state.order.get("id", "")), "an order")
    token = ctx.require(state.mfa_access, "the sign-in with a code")
    authenticator = state.authenticator
    assert authenticator is not None  # set with mfa_access
    window = ctx.target.refund_max_age_seconds
    if window > REFUND_WAIT_LIMIT_SECONDS:
        raise FeatureUnavailableError(
            f"a refund here needs a sign-in within {window:g} s (REFUND_MAX_AGE_SECONDS), "
            f"longer than the demo waits ({REFUND_WAIT_LIMIT_SECONDS:g} s): run the platform "
            "with REFUND_MAX_AGE_SECONDS=5 in the environment and pass it here too "
            "(--refund-max-age-seconds), or make demo on a platform of its own (3 s)"
        )
    order, invoice = _order_and_invoice(ctx, order_id, token, "the order created earlier")
    if (order["status"], invoice["status"]) != ("paid", "paid"):
        raise UnexpectedOutcomeError(
            f"the order is {order['status']}, its invoice {invoice['status']}: expected paid"
        )
    signed_in = access_token_claims(token)["auth_time"]
    wait = signed_in + window + 1 - time.time()
    ctx.say.detail(
        f"waiting {max(0.0, wait):.1f} s: the sign-in with a code (auth_time) grows older "
        f"than the refund window (REFUND_MAX_AGE_SECONDS={window:g} s here, not the default 300, "
        "so the demo waits seconds, not minutes)"
    )
    time.sleep(max(0.0, wait))

    cancel = f"{ORDERS}/{order_id}/cancel"
    refused = ctx.mobile.post(cancel, headers=ctx.bearer(token))
    ctx.say.http(refused, "the app cancels: billing refuses the refund, orders relays its answer")
    challenge = refused.headers.get("www-authenticate", "")
    ctx.say.detail(f"WWW-Authenticate: {challenge}")
    if refused.status_code == 200:
        raise UnexpectedOutcomeError(
            "the order was refunded without a recent sign-in: are orders' and billing's "
            f"REFUND_MAX_AGE_SECONDS longer than {window:g} s (--refund-max-age-seconds)?"
        )
    if refused.status_code != 401 or "insufficient_user_authentication" not in challenge:
        raise UnexpectedOutcomeError(
            f"a cancel with an old sign-in got {refused.status_code}: {refused.text[:200]}"
        )
    order, invoice = _order_and_invoice(ctx, order_id, token, "after the refusal")
    if (order["status"], invoice["status"]) != ("paid", "paid"):
        raise UnexpectedOutcomeError("the refused cancel changed the order or its invoice")

    password = ctx.mobile.post(
        STEP_UP, json={"password": state.password}, headers=ctx.bearer(token)
    )
    ctx.say.http(password, f"a step-up with the password: {_problem(password).get('detail')}")
    if password.status_code != 403:
        raise UnexpectedOutcomeError(
            f"with two-step verification on, a password step-up got {password.status_code}"
        )
    code, whose = narrated_code(authenticator)
    stepped = ctx.mobile.post(STEP_UP, json={"code": code}, headers=ctx.bearer(token))
    ctx.say.http(expect(stepped, 200, "step-up"), f"a step-up with code {code} — {whose}")
    fresh = stepped.json()["access_token"]
    ctx.say.detail(f"the new access token: {describe_authentication(access_token_claims(fresh))}")
    retried = expect(ctx.mobile.post(cancel, headers=ctx.bearer(fresh)), 200, "cancel")
    ctx.say.http(retried, "the app retries the cancel with it")
    order, invoice = _order_and_invoice(ctx, order_id, fresh, "after the retry")
    if (order["status"], invoice["status"]) != ("cancelled", "refunded"):
        raise UnexpectedOutcomeError(
            f"after the step-up the order is {order['status']}, its invoice {invoice['status']}"
        )
    state.order = order
    return (
        f"a refund refused to a sign-in older than {window:g} s (the order stayed paid), "
        "granted after a step-up with a code: order cancelled, invoice refunded"
    )


def _order_and_invoice(
    ctx: DemoContext, order_id: str, token: str, when: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The order at orders and its invoice at billing, each shown with its status."""
    found = expect(ctx.mobile.get(f"{ORDERS}/{order_id}", headers=ctx.bearer(token)), 200, "order")
    order: dict[str, Any] = found.json()
    ctx.say.http(found, f"{when}: status={order['status']}")
    invoice_id = order.get("invoice_id")
    if not invoice_id:
        raise UnexpectedOutcomeError(f"order {order_id} has no invoice")
    billed = ctx.mobile.get(f"{INVOICES}/{invoice_id}", headers=ctx.bearer(token))
    invoice: dict[str, Any] = expect(billed, 200, "billing's invoices API").json()
    ctx.say.http(billed, f"its invoice at billing: status={invoice['status']}")
    return order, invoice
