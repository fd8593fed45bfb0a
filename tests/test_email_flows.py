"""Verified email and password reset end to end: real processes on PostgreSQL and SQLite, auth
sending real SMTP to the platform's inbox (`tessera_dev.mail_catcher`), read over the same
Mailpit API a person or `make demo` uses.

A reset ends every session: the refresh token from before answers `invalid_grant`, and the
access token from before (and the token billing got for it) is refused by orders and billing
within a generous bound (the delay itself is what `make bench` measures). With the inbox down
the request is still 202, and the mail goes out once it is back.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import httpx
import pytest
from tessera.billing.v1 import billing_pb2_grpc
from tessera_dev import probes
from tessera_dev.accounts import Account, register_and_login
from tessera_dev.harness import RunningPlatform
from tessera_dev.inbox import Inbox, mailed_token

BOUND_SECONDS = 10.0
NEW_PASSWORD = "a brand new horse"
RESET_SUBJECT = "Reset your password"
UNDELIVERED = "Mail not delivered; retrying"


@pytest.fixture
def inbox(platform: RunningPlatform) -> Inbox:
    return Inbox(platform.plan.mail.inbox_url)


@pytest.fixture
def auth(platform: RunningPlatform) -> httpx.Client:
    # through the gateway, as a client would
    return httpx.Client(base_url=platform.plan.gateway.base_url, timeout=30)


def eventually(condition: Callable[[], bool], seconds: float = BOUND_SECONDS) -> bool:
    return probes.eventually(condition, seconds)


def test_the_verification_mail_arrives_over_smtp_and_its_link_works_once(
    platform: RunningPlatform, inbox: Inbox, auth: httpx.Client
) -> None:
    registered = auth.post(
        "/v1/users", json={"email": "verify-me@example.org", "password": "correct horse"}
    )
    mail = inbox.wait_for("verify-me@example.org", subject="Confirm your email address")
    token = mailed_token(mail)

    first = auth.post("/v1/users/verify-email", json={"token": token})
    second = auth.post("/v1/users/verify-email", json={"token": token})

    assert registered.status_code == 202
    assert f"{platform.plan.issuer}/#/verify?token={token}" in mail["Text"]
    assert token in mail["HTML"]
    assert first.status_code == 204
    assert second.status_code == 400
    assert second.json()["detail"] == "the link is invalid or has expired"


def test_registering_a_taken_address_answers_the_same_and_warns_its_owner(
    platform: RunningPlatform, inbox: Inbox, auth: httpx.Client
) -> None:
    owner = register_and_login(platform.plan.service("auth").base_url, inbox=inbox)
    new = auth.post("/v1/users", json={"email": "brand-new@example.org", "password": "pw-12345678"})

    taken = auth.post("/v1/users", json={"email": owner.email, "password": "pw-12345678"})

    assert (taken.status_code, taken.json()) == (
        new.status_code,
        {"email": owner.email, "status": "verification_sent"},
    )
    warning = inbox.wait_for(owner.email, subject="Someone tried to sign up")
    assert "token=" not in warning["Text"]


def test_a_reset_ends_every_session_and_orders_and_billing_refuse_the_old_tokens(
    platform: RunningPlatform,
    inbox: Inbox,
    auth: httpx.Client,
    billing_grpc: billing_pb2_grpc.BillingServiceStub,
) -> None:
    account = register_and_login(
        platform.plan.service("auth").base_url, client_id="mobile", inbox=inbox
    )
    orders_url = platform.plan.service("orders").base_url
    exchanged = probes.exchanged_for_billing(platform, account.access_token)
    assert probes.orders_status(orders_url, account.access_token) == 200

    asked = auth.post("/v1/auth/password-reset", json={"email": account.email})
    token = mailed_token(inbox.wait_for(account.email, subject=RESET_SUBJECT))
    confirmed = auth.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )

    assert (asked.status_code, confirmed.status_code) == (202, 204)
    assert eventually(lambda: probes.orders_status(orders_url, account.access_token) == 401)
    assert eventually(
        lambda: (
            probes.list_invoices_code(billing_grpc, exchanged) == grpc.StatusCode.UNAUTHENTICATED
        )
    )
    refreshed = auth.post(
        "/v1/auth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "mobile",
            "refresh_token": account.refresh_token,
        },
    )
    assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
    inbox.wait_for(account.email, subject="Your password was changed")
    again = auth.post(
        "/v1/auth/login",
        json={"email": account.email, "password": NEW_PASSWORD, "client_id": "mobile"},
    )
    assert again.status_code == 200


def test_with_the_inbox_down_a_reset_answers_202_and_its_mail_arrives_once_it_is_back(
    platform: RunningPlatform, inbox: Inbox, auth: httpx.Client
) -> None:
    account: Account = register_and_login(platform.plan.service("auth").base_url, inbox=inbox)
    failed_attempts = platform.log("auth").count(UNDELIVERED)
    platform.stop_process("mail")
    try:
        asked = auth.post("/v1/auth/password-reset", json={"email": account.email})
        # auth tries, fails and schedules a retry: the attempt is in its log
        assert eventually(lambda: platform.log("auth").count(UNDELIVERED) > failed_attempts)
    finally:
        mail = platform.plan.mail
        platform.start_process("mail", mail.serve_argv, mail.settings, ready_url=mail.health_url)

    assert asked.status_code == 202
    # the retry comes after a backoff of at most a few seconds
    reset = inbox.wait_for(account.email, subject=RESET_SUBJECT, seconds=60)
    confirmed = auth.post(
        "/v1/auth/password-reset/confirm",
        json={"token": mailed_token(reset), "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 204
