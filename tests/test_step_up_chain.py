"""Two-step sign-in and step-up (RFC 9470) end to end: real auth, orders and billing processes,
on SQLite and on PostgreSQL.

A user turns TOTP on (codes computed with pyotp from the secret auth hands out), signs out and
in again with a code or a recovery code, each accepted once, and the tokens say how they signed
in (`auth_time`, `acr`, `amr`) through a refresh and the exchange for billing. A refund needs a
sign-in more recent than REFUND_MAX_AGE_SECONDS: billing's challenge reaches the user through
orders (401 with the same `WWW-Authenticate`, the order untouched) and over gRPC directly
(UNAUTHENTICATED, trailing `www-authenticate`); after a step-up the refund happens, once. An
admin operation needs acr mfa: a password-only admin is challenged until MFA is on.

This module runs its own platform (once per backend), with a refund window short enough to
outwait: the session platform keeps the default of 5 minutes. Waits go past the window with a
margin; nothing asserts how fast anything was.
"""

from __future__ import annotations

import base64
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
import pytest
from tessera.billing.v1 import billing_pb2
from tessera_dev import probes
from tessera_dev.accounts import Account, Authenticator, register_and_login
from tessera_dev.harness import RunningPlatform, free_port_plan, temporary_postgres_databases
from tessera_dev.inbox import Inbox
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, describe_platform, sqlite_database_urls
from tessera_dev.processes import child_environment, local_argv

REFUND_MAX_AGE_SECONDS = 5
"""billing's (and orders') refund window here: short, so a test can outwait it."""
PAST_THE_WINDOW_SECONDS = REFUND_MAX_AGE_SECONDS + 3
ACR_PWD = "urn:tessera:acr:pwd"
ACR_MFA = "urn:tessera:acr:mfa"
MFA_AMR = ["pwd", "otp", "mfa"]
PROBLEM = "urn:tessera:problem:"
CREATE_ADMIN = ("users", "create-admin", "--password-stdin")
ORDER = {
    "items": [{"sku": "TESSERA-MUG", "quantity": 1, "unit_price_cents": 1250}],
    "currency": "EUR",
}


def _settings() -> dict[str, dict[str, str]]:
    refunds = {"REFUND_MAX_AGE_SECONDS": str(REFUND_MAX_AGE_SECONDS)}
    return {
        "auth": {
            "KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            # cheap argon2: the tests sign users in many times on two cores
            "PASSWORD_HASH_MEMORY_KIB": "8192",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_PARALLELISM": "1",
            **BULK_USERS_AUTH_SETTINGS,
        },
        "orders": refunds,
        "billing": refunds,
    }


@dataclass(frozen=True)
class Chain:
    """The running platform and what the tests reach it with."""

    running: RunningPlatform
    inbox: Inbox

    @property
    def auth_url(self) -> str:
        return self.running.plan.service("auth").base_url

    def auth(self) -> httpx.Client:
        return httpx.Client(base_url=self.auth_url, timeout=30)

    def orders(self) -> httpx.Client:
        return httpx.Client(base_url=self.running.plan.service("orders").base_url, timeout=30)

    def billing(self) -> httpx.Client:
        return httpx.Client(base_url=self.running.plan.service("billing").base_url, timeout=30)


@pytest.fixture(scope="module", params=("sqlite", "postgres"))
def chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Chain]:
    backend: str = request.param
    workdir = tmp_path_factory.mktemp(f"step-up-{backend}")
    if backend == "postgres":
        with temporary_postgres_databases("stepup") as urls:
            yield from _run(urls, workdir)
    else:
        yield from _run(sqlite_database_urls(workdir / "var"), workdir)


def _run(urls: dict[str, str], workdir: Path) -> Iterator[Chain]:
    plan = describe_platform(ports=free_port_plan(), database_urls=urls, extra_settings=_settings())
    with RunningPlatform.start(plan, log_dir=workdir / "logs") as running:
        yield Chain(running, Inbox(running.plan.mail.inbox_url))


# --- the user's side: an authenticator app, tokens, sign-in -----------------------------------


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge_of(answer: httpx.Response) -> str:
    """The RFC 9470 challenge of a 401 (its WWW-Authenticate), checked to be one."""
    assert answer.status_code == 401, answer.text
    header: str = answer.headers.get("www-authenticate", "")
    assert header.startswith("Bearer "), header
    assert 'error="insufficient_user_authentication"' in header, header
    return header


def log_in_mobile(auth: httpx.Client, email: str, password: str) -> httpx.Response:
    return auth.post(
        "/v1/auth/login", json={"email": email, "password": password, "client_id": "mobile"}
    )


def mfa_token_of(first_step: httpx.Response) -> str:
    """The `mfa_token` of a password login that answered "mfa-required"."""
    assert first_step.status_code == 401, first_step.text
    body = first_step.json()
    assert body["type"] == f"{PROBLEM}mfa-required", body
    assert sorted(body["methods"]) == ["recovery_code", "totp"], body
    assert "www-authenticate" not in first_step.headers
    assert "set-cookie" not in first_step.headers
    token: str = body["mfa_token"]
    return token


@dataclass
class TwoStepUser:
    """A user with TOTP on: the authenticator, the recovery codes, the session's newest token."""

    account: Account
    authenticator: Authenticator
    recovery_codes: list[str]
    access_token: str


def turn_on_totp(chain: Chain, account: Account) -> TwoStepUser:
    """Enrol (POST /v1/users/me/mfa/totp) and confirm with a code: MFA on, session at acr mfa."""
    with chain.auth() as auth:
        started = auth.post("/v1/users/me/mfa/totp", headers=account.bearer)
        assert started.status_code == 200, started.text
        secret = started.json()["secret"]
        assert f"secret={secret}" in started.json()["otpauth_uri"]
        authenticator = Authenticator(secret)
        confirmed = auth.post(
            "/v1/users/me/mfa/totp/confirm",
            json={"code": authenticator.code()},
            headers=account.bearer,
        )
        assert confirmed.status_code == 200, confirmed.text
        body = confirmed.json()
        status = auth.get("/v1/users/me/mfa", headers=bearer(body["access_token"]))
    assert len(body["recovery_codes"]) == 10
    assert claims(body["access_token"])["acr"] == ACR_MFA
    assert status.json() == {"totp": "on", "recovery_codes_left": 10}
    return TwoStepUser(account, authenticator, body["recovery_codes"], body["access_token"])


def step_up(chain: Chain, token: str, credential: dict[str, str]) -> str:
    """POST /v1/auth/step-up with `credential` (password, code or recovery_code): a fresh token."""
    with chain.auth() as auth:
        stepped = auth.post("/v1/auth/step-up", json=credential, headers=bearer(token))
    assert stepped.status_code == 200, stepped.text
    fresh: str = stepped.json()["access_token"]
    return fresh


def invoices_of(chain: Chain, token: str, order_id: str) -> list[dict[str, Any]]:
    """The user's invoices at billing for `order_id` (GET /v1/invoices with the user's token)."""
    with chain.billing() as billing:
        listed = billing.get("/v1/invoices", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    return [i for i in listed.json()["items"] if i["order_id"] == order_id]


def place_paid_order(chain: Chain, token: str) -> dict[str, Any]:
    with chain.orders() as orders:
        placed = orders.post("/v1/orders", json=ORDER, headers=bearer(token))
    assert placed.status_code == 201, placed.text
    order: dict[str, Any] = placed.json()
    assert order["status"] == "paid", order
    return order


def cancel_after_step_up(
    chain: Chain,
    old_token: str,
    order: dict[str, Any],
    password: str,
    *,
    authenticator: Authenticator | None = None,
) -> str:
    """Cancel the paid `order` with `old_token` (signed in longer ago than the window): refused
    with billing's challenge, nothing changed; step up (the password, or a code when the user
    has an authenticator, which the password cannot replace) and the retry refunds, once.
    Returns the challenge orders relayed."""
    order_id = order["id"]
    with chain.orders() as orders:
        refused = orders.post(f"/v1/orders/{order_id}/cancel", headers=bearer(old_token))
        untouched = orders.get(f"/v1/orders/{order_id}", headers=bearer(old_token))
    header = challenge_of(refused)
    assert f'max_age="{REFUND_MAX_AGE_SECONDS}"' in header, header
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert untouched.json()["status"] == "paid", untouched.text
    assert [i["status"] for i in invoices_of(chain, old_token, order_id)] == ["paid"]

    if authenticator is None:
        fresh = step_up(chain, old_token, {"password": password})
    else:
        with chain.auth() as auth:
            by_password = auth.post(
                "/v1/auth/step-up", json={"password": password}, headers=bearer(old_token)
            )
        assert by_password.status_code == 403, by_password.text
        assert "code" in by_password.json()["detail"]
        fresh = step_up(chain, old_token, {"code": authenticator.code()})
    with chain.orders() as orders:
        cancelled = orders.post(f"/v1/orders/{order_id}/cancel", headers=bearer(fresh))
        cancelled_again = orders.post(f"/v1/orders/{order_id}/cancel", headers=bearer(fresh))
        fetched = orders.get(f"/v1/orders/{order_id}", headers=bearer(fresh))

    assert claims(fresh)["acr"] == (ACR_PWD if authenticator is None else ACR_MFA)
    assert claims(fresh)["auth_time"] > claims(old_token)["auth_time"]
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled"), cancelled.text
    assert cancelled_again.status_code == 200, cancelled_again.text
    assert fetched.json()["status"] == "cancelled"
    invoices = invoices_of(chain, fresh, order_id)
    assert [(i["id"], i["status"]) for i in invoices] == [(order["invoice_id"], "refunded")]
    return header


# --- the tests --------------------------------------------------------------------------------


def test_a_totp_login_and_a_recovery_code_login_each_work_once_and_tokens_say_mfa(
    chain: Chain,
) -> None:
    account = register_and_login(chain.auth_url, client_id="mobile", inbox=chain.inbox)
    with chain.auth() as auth:
        before = auth.get("/v1/users/me/mfa", headers=account.bearer)
    user = turn_on_totp(chain, account)
    with chain.auth() as auth:
        logout = auth.post(
            "/v1/auth/logout",
            json={"refresh_token": account.refresh_token},
            headers=bearer(user.access_token),
        )
        # password, then a code (mobile)
        mfa_token = mfa_token_of(log_in_mobile(auth, account.email, account.password))
        code = user.authenticator.code()
        signed_in = auth.post(
            "/v1/auth/login/mfa", json={"mfa_token": mfa_token, "client_id": "mobile", "code": code}
        )
        used_token_again = auth.post(
            "/v1/auth/login/mfa", json={"mfa_token": mfa_token, "client_id": "mobile", "code": code}
        )
        refreshed = auth.post(
            "/v1/auth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "mobile",
                "refresh_token": signed_in.json()["refresh_token"],
            },
        )

    with chain.auth() as browser:
        # password, then the same code again (refused), then a recovery code (web, with CSRF)
        csrf = {"X-CSRF-Token": browser.get("/v1/auth/csrf").json()["csrf_token"]}
        web_login = {"email": account.email, "password": account.password, "client_id": "web"}
        web_mfa_token = mfa_token_of(browser.post("/v1/auth/login", json=web_login, headers=csrf))
        second = {"mfa_token": web_mfa_token, "client_id": "web"}
        replayed = browser.post("/v1/auth/login/mfa", json={**second, "code": code}, headers=csrf)
        recovered = browser.post(
            "/v1/auth/login/mfa",
            json={**second, "recovery_code": user.recovery_codes[0]},
            headers=csrf,
        )
    with chain.auth() as auth:
        # the recovery code is spent
        again = mfa_token_of(log_in_mobile(auth, account.email, account.password))
        spent = auth.post(
            "/v1/auth/login/mfa",
            json={
                "mfa_token": again,
                "client_id": "mobile",
                "recovery_code": user.recovery_codes[0],
            },
        )
        status = auth.get("/v1/users/me/mfa", headers=bearer(recovered.json()["access_token"]))

    assert before.json() == {"totp": "off", "recovery_codes_left": 0}
    assert logout.status_code == 204, logout.text
    assert signed_in.status_code == 200, signed_in.text
    assert used_token_again.status_code == 401
    assert used_token_again.json()["type"] == f"{PROBLEM}mfa-token-invalid"
    assert replayed.status_code == 401, replayed.text
    assert replayed.json()["type"] == f"{PROBLEM}mfa-code-invalid"
    assert recovered.status_code == 200, recovered.text  # the mfa_token outlived a wrong code
    assert recovered.cookies, "a web sign-in sets the refresh and CSRF cookies"
    assert spent.status_code == 401, spent.text
    assert spent.json()["type"] == f"{PROBLEM}mfa-code-invalid"
    assert status.json() == {"totp": "on", "recovery_codes_left": 9}

    first = claims(signed_in.json()["access_token"])
    assert (first["acr"], first["amr"]) == (ACR_MFA, MFA_AMR)
    assert abs(first["auth_time"] - first["iat"]) <= 2
    assert claims(recovered.json()["access_token"])["acr"] == ACR_MFA
    assert refreshed.status_code == 200, refreshed.text
    exchanged = claims(
        probes.exchanged_for_billing(chain.running, refreshed.json()["access_token"])
    )
    assert exchanged["aud"] == ["billing"]
    for claim in ("auth_time", "acr", "amr"):
        assert claims(refreshed.json()["access_token"])[claim] == first[claim], claim
        assert exchanged[claim] == first[claim], claim


def test_a_refund_after_the_window_is_challenged_and_after_a_step_up_happens_once(
    chain: Chain,
) -> None:
    # three users whose sign-ins are about to grow old: cancelling through orders with a password
    # and with a code, and refunding at billing's gRPC directly (as orders would)
    with_password = register_and_login(chain.auth_url, client_id="mobile")
    with_code = turn_on_totp(
        chain, register_and_login(chain.auth_url, client_id="mobile", inbox=chain.inbox)
    )
    direct = register_and_login(chain.auth_url, client_id="mobile")
    orders_of = {
        with_password.id: place_paid_order(chain, with_password.access_token),
        with_code.account.id: place_paid_order(chain, with_code.access_token),
        direct.id: place_paid_order(chain, direct.access_token),
    }
    time.sleep(PAST_THE_WINDOW_SECONDS)

    relayed = cancel_after_step_up(
        chain, with_password.access_token, orders_of[with_password.id], with_password.password
    )
    cancel_after_step_up(
        chain,
        with_code.access_token,
        orders_of[with_code.account.id],
        with_code.account.password,
        authenticator=with_code.authenticator,
    )

    # billing's gRPC, called as orders calls it: an exchanged token of an old sign-in
    invoice_id = orders_of[direct.id]["invoice_id"]
    refund = billing_pb2.RefundRequest(
        invoice_id=invoice_id, idempotency_key=f"direct-{secrets.token_hex(4)}", reason="test"
    )
    old_exchanged = probes.exchanged_for_billing(chain.running, direct.access_token)
    with probes.billing_stub(chain.running) as stub:
        with pytest.raises(grpc.RpcError) as refused_rpc:
            stub.Refund(
                refund, metadata=(("authorization", f"Bearer {old_exchanged}"),), timeout=10
            )
        unchanged = invoices_of(chain, direct.access_token, orders_of[direct.id]["id"])
        fresh_exchanged = probes.exchanged_for_billing(
            chain.running, step_up(chain, direct.access_token, {"password": direct.password})
        )
        call = (("authorization", f"Bearer {fresh_exchanged}"),)
        refunded = stub.Refund(refund, metadata=call, timeout=10)
        refunded_again = stub.Refund(refund, metadata=call, timeout=10)

    error: Any = refused_rpc.value
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    trailing = dict(error.trailing_metadata() or ())
    assert 'error="insufficient_user_authentication"' in trailing["www-authenticate"]
    assert f'max_age="{REFUND_MAX_AGE_SECONDS}"' in trailing["www-authenticate"]
    assert trailing["www-authenticate"] == relayed  # orders relays billing's challenge as is
    assert [i["status"] for i in unchanged] == ["paid"]
    assert (refunded.id, refunded.status) == (invoice_id, "refunded")
    assert (refunded_again.id, refunded_again.status) == (invoice_id, "refunded")
    after = invoices_of(chain, direct.access_token, orders_of[direct.id]["id"])
    assert [(i["id"], i["status"]) for i in after] == [(invoice_id, "refunded")]


def test_an_admin_operation_needs_mfa_and_works_once_the_admin_turns_it_on(chain: Chain) -> None:
    email = f"admin-{secrets.token_hex(5)}@example.org"
    password = f"pw-{secrets.token_urlsafe(12)}"
    created = subprocess.run(
        local_argv(("python", "-m", "auth_service", *CREATE_ADMIN, "--email", email)),
        env=child_environment(chain.running.plan.service("auth").settings),
        input=f"{password}\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert f"created admin {email}" in created.stdout
    target = register_and_login(chain.auth_url, client_id="mobile")
    revoke = f"/v1/admin/users/{target.id}/revoke-sessions"

    with chain.auth() as auth:
        signed_in = log_in_mobile(auth, email, password)
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["access_token"]
        refused = auth.post(revoke, headers=bearer(token))
        # a fresh password step-up is recent, but not strong enough
        stepped = step_up(chain, token, {"password": password})
        still_refused = auth.post(revoke, headers=bearer(stepped))
        admin = turn_on_totp(chain, Account(claims(token)["sub"], email, password, stepped))
        revoked = auth.post(revoke, headers=bearer(admin.access_token))
        target_refresh = auth.post(
            "/v1/auth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "mobile",
                "refresh_token": target.refresh_token,
            },
        )

    assert "admin" in claims(token)["scope"].split()
    assert claims(token)["acr"] == ACR_PWD
    for answer in (refused, still_refused):
        header = challenge_of(answer)
        assert f'acr_values="{ACR_MFA}"' in header, header
        assert 'max_age="900"' in header, header
    assert revoked.status_code == 204, revoked.text
    assert (target_refresh.status_code, target_refresh.json()["error"]) == (400, "invalid_grant")
