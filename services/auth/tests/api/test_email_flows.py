"""Verified email and password reset over real SMTP (a catcher of the test's own), on SQLite and
PostgreSQL: every mail arrives and its link works once, registration and reset never say who
has an account, a reset ends every session, and an SMTP outage loses nothing."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from typing import Any

import httpx
import pytest
from auth_service.adapters.models import EmailTokenRow, MailOutboxRow
from auth_service.config import Settings
from prometheus_client import REGISTRY
from tessera_dev.mail_catcher import CaughtMail, MailCatcher

from ..session_support import PASSWORD, Auth, bearer, refresh_mobile, running  # noqa: TID252

NEW_PASSWORD = "a new correct horse"
TOKEN = re.compile(r"token=(ts[vp]_[A-Za-z0-9_-]+)")
VERIFY_SUBJECT = "Confirm your email address"
WARNING_SUBJECT = "Someone tried to sign up"
RESET_SUBJECT = "Reset your password"
CHANGED_SUBJECT = "Your password was changed"


def token_in(mail: CaughtMail) -> str:
    """The token of the mail's link, which the text and the HTML body both carry."""
    match = TOKEN.search(mail.text)
    assert match is not None, mail.text
    assert match.group(1) in mail.html
    return match.group(1)


async def register(auth: Auth, email: str, password: str = PASSWORD) -> httpx.Response:
    return await auth.http.post("/v1/users", json={"email": email, "password": password})


async def log_in(auth: Auth, email: str, password: str = PASSWORD) -> httpx.Response:
    return await auth.http.post(
        "/v1/auth/login", json={"email": email, "password": password, "client_id": "mobile"}
    )


async def verified_user(auth: Auth, mail: MailCatcher, email: str) -> None:
    assert (await register(auth, email)).status_code == 202
    token = token_in(await mail.wait_for(email, subject=VERIFY_SUBJECT))
    assert (
        await auth.http.post("/v1/users/verify-email", json={"token": token})
    ).status_code == 204


async def outbox(auth: Auth) -> list[MailOutboxRow]:
    rows: list[MailOutboxRow] = await auth.rows(MailOutboxRow)
    return sorted(rows, key=lambda row: row.created_at)


async def settled_outbox(auth: Auth) -> list[MailOutboxRow]:
    """The outbox once the worker has nothing left to do now (it is woken by every commit)."""
    for _ in range(200):
        rows = await outbox(auth)
        due = [r for r in rows if r.status == "pending" and r.attempts == 0]
        if not due:
            return rows
        await auth.runtime.mail_worker.run_once()
        await asyncio.sleep(0.02)  # an entry the background round holds is finished meanwhile
    raise AssertionError("the outbox never settled")


async def driven_by_the_test(auth: Auth) -> None:
    """Stop the worker's own loop: the test's `run_once` calls are then the only rounds, so a
    round the test runs cannot find its entry held by a background one."""
    await auth.runtime.mail_worker.aclose()


async def every_mail_tried_once(auth: Auth, kinds: set[str]) -> list[MailOutboxRow]:
    """The pending mails once each of `kinds` has been tried (a request is resolved into its mail
    first; on the test's frozen clock a failed send then waits for its backoff)."""
    for _ in range(200):
        await auth.runtime.mail_worker.run_once()
        waiting = [r for r in await outbox(auth) if r.status == "pending"]
        if {r.kind for r in waiting} == kinds and all(r.attempts >= 1 for r in waiting):
            return waiting
        await asyncio.sleep(0.05)
    raise AssertionError(f"not every mail was tried: {[(r.kind, r.attempts) for r in waiting]}")


def mails_to(mail: MailCatcher, email: str) -> list[CaughtMail]:
    return [caught for caught in mail.mailbox.messages if email in caught.recipients]


def refused_token_problem(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def auth(settings: Settings) -> Any:
    async with running(settings, EMAIL_VERIFICATION="required") as running_auth:
        yield running_auth


async def test_registration_answers_202_and_mails_a_link_that_verifies_the_address_once(
    auth: Auth, mail: MailCatcher
) -> None:
    response = await register(auth, "Ada@example.com")

    assert response.status_code == 202
    assert response.json() == {"email": "Ada@example.com", "status": "verification_sent"}
    verification = await mail.wait_for("Ada@example.com", subject=VERIFY_SUBJECT)
    token = token_in(verification)
    assert f"https://auth.example.test/#/verify?token={token}" in verification.text

    refused = await log_in(auth, "ada@example.com")
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:tessera:problem:email-not-verified"

    first = await auth.http.post("/v1/users/verify-email", json={"token": token})
    second = await auth.http.post("/v1/users/verify-email", json={"token": token})

    assert first.status_code == 204
    assert refused_token_problem(second)["detail"] == "the link is invalid or has expired"
    signed_in = await log_in(auth, "ada@example.com")
    assert signed_in.status_code == 200
    me = await auth.http.get("/v1/users/me", headers=bearer(signed_in.json()["access_token"]))
    assert me.json()["email_verified"] is True


async def test_the_password_is_checked_before_the_address_is_refused_as_unverified(
    auth: Auth, mail: MailCatcher
) -> None:
    await register(auth, "ada@example.com")

    wrong = await log_in(auth, "ada@example.com", "not the password")

    assert wrong.status_code == 401  # nothing says the account exists, let alone its state


async def test_a_taken_address_gets_the_same_answer_and_its_owner_a_warning_mail(
    auth: Auth, mail: MailCatcher
) -> None:
    await verified_user(auth, mail, "ada@example.com")

    new = await register(auth, "bob@example.com", "another horse")
    taken = await register(auth, "ADA@example.com", "another horse")

    assert (taken.status_code, taken.headers["content-type"]) == (
        new.status_code,
        new.headers["content-type"],
    )
    assert taken.json() == {"email": "ADA@example.com", "status": "verification_sent"}
    warning = await mail.wait_for("ada@example.com", subject=WARNING_SUBJECT)
    assert TOKEN.search(warning.text) is None  # a notice: no link that does anything
    assert (await log_in(auth, "ada@example.com")).status_code == 200  # nothing changed
    assert (await log_in(auth, "ada@example.com", "another horse")).status_code == 401


async def test_warning_mails_to_one_address_are_limited(
    settings: Settings, mail: MailCatcher
) -> None:
    async with running(settings, REGISTRATION_WARNING_RATE_LIMIT_PER_ADDRESS="2/hour") as auth:
        await verified_user(auth, mail, "ada@example.com")
        for _ in range(4):
            assert (await register(auth, "ada@example.com")).status_code == 202

        rows = await settled_outbox(auth)

    warnings = [m for m in mails_to(mail, "ada@example.com") if m.subject.startswith("Someone")]
    assert len(warnings) == 2
    assert [r.status for r in rows if r.kind == "already_registered_request"].count("dropped") == 2


async def test_a_resent_verification_mail_replaces_the_earlier_link(
    auth: Auth, mail: MailCatcher
) -> None:
    await register(auth, "ada@example.com")
    first = token_in(await mail.wait_for("ada@example.com", subject=VERIFY_SUBJECT))
    mail.mailbox.clear()

    resent = await auth.http.post(
        "/v1/users/verify-email/resend", json={"email": "ada@example.com"}
    )

    assert resent.status_code == 202
    second = token_in(await mail.wait_for("ada@example.com", subject=VERIFY_SUBJECT))
    assert second != first
    old = await auth.http.post("/v1/users/verify-email", json={"token": first})
    assert refused_token_problem(old)["detail"] == "the link is invalid or has expired"
    new = await auth.http.post("/v1/users/verify-email", json={"token": second})
    assert new.status_code == 204


async def test_a_resend_for_a_verified_or_unknown_address_answers_the_same_and_mails_nothing(
    auth: Auth, mail: MailCatcher
) -> None:
    await verified_user(auth, mail, "ada@example.com")
    mail.mailbox.clear()

    verified = await auth.http.post(
        "/v1/users/verify-email/resend", json={"email": "ada@example.com"}
    )
    unknown = await auth.http.post(
        "/v1/users/verify-email/resend", json={"email": "nobody@example.com"}
    )

    assert verified.status_code == unknown.status_code == 202
    assert verified.content == unknown.content == b""
    rows = await settled_outbox(auth)
    assert [r.status for r in rows if r.kind == "resend_verification_request"] == [
        "dropped",
        "dropped",
    ]
    assert list(mail.mailbox.messages) == []


async def test_a_password_reset_ends_every_session_and_its_link_works_once(
    auth: Auth, mail: MailCatcher
) -> None:
    await verified_user(auth, mail, "ada@example.com")
    before = (await log_in(auth, "ada@example.com")).json()

    asked = await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})

    assert asked.status_code == 202
    reset = await mail.wait_for("ada@example.com", subject=RESET_SUBJECT)
    token = token_in(reset)
    assert f"https://auth.example.test/#/reset?token={token}" in reset.text
    confirmed = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert confirmed.status_code == 204

    refresh = await refresh_mobile(auth.http, before["refresh_token"])
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_grant")
    stale = await auth.http.get("/v1/users/me", headers=bearer(before["access_token"]))
    assert stale.status_code == 401
    assert (await log_in(auth, "ada@example.com")).status_code == 401
    assert (await log_in(auth, "ada@example.com", NEW_PASSWORD)).status_code == 200
    again = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "a third horse"}
    )
    assert refused_token_problem(again)["detail"] == "the link is invalid or has expired"
    changed = await mail.wait_for("ada@example.com", subject=CHANGED_SUBJECT)
    assert TOKEN.search(changed.text) is None
    assert "password.reset" in await auth.audit_events()


async def test_a_reset_link_also_verifies_the_address(auth: Auth, mail: MailCatcher) -> None:
    await register(auth, "ada@example.com")
    await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = token_in(await mail.wait_for("ada@example.com", subject=RESET_SUBJECT))

    await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )

    assert (await log_in(auth, "ada@example.com", NEW_PASSWORD)).status_code == 200


async def test_asking_again_keeps_the_earlier_link_and_using_one_kills_the_others(
    auth: Auth, mail: MailCatcher
) -> None:
    # a stranger asking for resets of the address cannot keep breaking the owner's link
    await verified_user(auth, mail, "ada@example.com")
    await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    older = token_in(await mail.wait_for("ada@example.com", subject=RESET_SUBJECT))
    mail.mailbox.clear()
    await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    newer = token_in(await mail.wait_for("ada@example.com", subject=RESET_SUBJECT))

    accepted = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": older, "new_password": NEW_PASSWORD}
    )
    refused = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": newer, "new_password": "a third horse"}
    )

    assert accepted.status_code == 204
    assert refused_token_problem(refused)["detail"] == "the link is invalid or has expired"


async def test_changing_the_password_kills_a_reset_link_already_mailed(
    auth: Auth, mail: MailCatcher
) -> None:
    await verified_user(auth, mail, "ada@example.com")
    session = (await log_in(auth, "ada@example.com")).json()
    await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = token_in(await mail.wait_for("ada@example.com", subject=RESET_SUBJECT))

    changed = await auth.http.post(
        "/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(session["access_token"]),
    )
    reset = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "a third horse"}
    )

    assert changed.status_code == 204
    assert refused_token_problem(reset)["detail"] == "the link is invalid or has expired"


async def test_using_links_is_limited_per_ip(settings: Settings, mail: MailCatcher) -> None:
    # a confirm costs an argon2id hash: made-up tokens must not buy unlimited hashing
    async with running(settings, EMAIL_TOKEN_RATE_LIMIT_PER_IP="2/minute") as auth:
        answers = [
            (
                await auth.http.post(
                    "/v1/auth/password-reset/confirm",
                    json={"token": "tsp_" + "A" * 43, "new_password": NEW_PASSWORD},
                )
            ).status_code
            for _ in range(3)
        ]

    assert answers == [400, 400, 429]


async def test_a_reset_for_an_unknown_address_answers_the_same_and_mails_nothing(
    auth: Auth, mail: MailCatcher
) -> None:
    await verified_user(auth, mail, "ada@example.com")
    mail.mailbox.clear()

    known = await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    unknown = await auth.http.post("/v1/auth/password-reset", json={"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content == b""
    await mail.wait_for("ada@example.com", subject=RESET_SUBJECT)
    rows = await settled_outbox(auth)
    assert sorted(r.status for r in rows if r.kind == "password_reset_request") == [
        "dropped",
        "resolved",
    ]
    assert mails_to(mail, "nobody@example.com") == []


async def test_resets_of_one_address_are_limited_alike_whether_it_has_an_account(
    settings: Settings, mail: MailCatcher
) -> None:
    async with running(settings, PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS="2/hour") as auth:
        await verified_user(auth, mail, "ada@example.com")
        answers = {
            email: [
                (await auth.http.post("/v1/auth/password-reset", json={"email": email})).status_code
                for _ in range(3)
            ]
            for email in ("ada@example.com", "nobody@example.com")
        }

    assert answers == {"ada@example.com": [202, 202, 429], "nobody@example.com": [202, 202, 429]}


@pytest.mark.parametrize(
    "token",
    [
        "tsp_" + "A" * 43,  # well formed, never issued
        "tsv_" + "A" * 43,  # the other purpose's prefix
        "not a token",
        "tsp_" + "A" * 200,
    ],
)
async def test_any_reset_token_that_cannot_be_used_gets_one_generic_400(
    auth: Auth, mail: MailCatcher, token: str
) -> None:
    response = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )

    problem = refused_token_problem(response)
    assert problem["detail"] == "the link is invalid or has expired"


async def test_an_expired_reset_link_gets_the_same_400(auth: Auth, mail: MailCatcher) -> None:
    await verified_user(auth, mail, "ada@example.com")
    await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = token_in(await mail.wait_for("ada@example.com", subject=RESET_SUBJECT))

    auth.clock.advance(31 * 60)
    response = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )

    assert refused_token_problem(response)["detail"] == "the link is invalid or has expired"
    assert (await log_in(auth, "ada@example.com")).status_code == 200


async def test_a_new_password_the_policy_refuses_is_422_and_changes_nothing(
    auth: Auth, mail: MailCatcher
) -> None:
    await verified_user(auth, mail, "ada@example.com")
    before = (await log_in(auth, "ada@example.com")).json()
    await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = token_in(await mail.wait_for("ada@example.com", subject=RESET_SUBJECT))

    weak = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"}
    )

    assert weak.status_code == 422
    assert (await log_in(auth, "ada@example.com")).status_code == 200
    assert (await refresh_mobile(auth.http, before["refresh_token"])).status_code == 200
    still_good = await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert still_good.status_code == 204


async def test_while_smtp_is_down_requests_answer_202_and_the_mail_goes_out_when_it_is_back(
    settings: Settings,
) -> None:
    port = unused_port()
    async with running(
        settings, SMTP_URL=f"smtp://127.0.0.1:{port}", EMAIL_VERIFICATION="optional"
    ) as auth:
        await driven_by_the_test(auth)
        assert (await register(auth, "ada@example.com")).status_code == 202
        asked = await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
        assert asked.status_code == 202
        waiting = await every_mail_tried_once(auth, {"verify_email", "password_reset"})
        assert all(r.last_error for r in waiting)

        async with MailCatcher(port=port) as back:
            auth.clock.advance(60)  # past the backoff
            while await auth.runtime.mail_worker.run_once():
                pass
            reset = await back.wait_for("ada@example.com", subject=RESET_SUBJECT)
            await back.wait_for("ada@example.com", subject=VERIFY_SUBJECT)

        confirmed = await auth.http.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token_in(reset), "new_password": NEW_PASSWORD},
        )
        assert confirmed.status_code == 204


async def test_a_mail_whose_link_expired_while_smtp_was_down_is_never_sent(
    settings: Settings,
) -> None:
    port = unused_port()
    async with running(settings, SMTP_URL=f"smtp://127.0.0.1:{port}") as auth:
        await driven_by_the_test(auth)
        await auth.http.post("/v1/users", json={"email": "ada@example.com", "password": PASSWORD})
        await auth.runtime.mail_worker.run_once()

        auth.clock.advance(25 * 3600)  # the verification link lives 24 h
        async with MailCatcher(port=port) as back:
            await auth.runtime.mail_worker.run_once()
            (row,) = await outbox(auth)
            assert list(back.mailbox.messages) == []

    assert (row.kind, row.status, row.sealed) == ("verify_email", "expired", None)


async def test_the_outbox_keeps_links_sealed_and_wipes_them_once_sent(settings: Settings) -> None:
    port = unused_port()
    async with running(settings, SMTP_URL=f"smtp://127.0.0.1:{port}") as auth:
        await driven_by_the_test(auth)
        await register(auth, "ada@example.com")
        await auth.runtime.mail_worker.run_once()
        (waiting,) = await outbox(auth)
        assert waiting.sealed is not None
        assert b"tsv_" not in waiting.sealed
        assert b"ada@example.com" not in waiting.sealed
        (stored,) = await auth.rows(EmailTokenRow)
        assert len(stored.token_hash) == 32  # a SHA-256, not the token
        await auth.runtime.mail_worker.run_once()  # nothing due: the round counts what waits
        assert REGISTRY.get_sample_value("auth_mail_outbox_pending") == 1

        async with MailCatcher(port=port) as back:
            auth.clock.advance(60)
            await auth.runtime.mail_worker.run_once()
            await back.wait_for("ada@example.com", subject=VERIFY_SUBJECT)
            await auth.runtime.mail_worker.run_once()  # nothing due: the count is 0 again
        (sent,) = await outbox(auth)

    assert (sent.status, sent.sealed, sent.sent_at is not None) == ("sent", None, True)
    assert REGISTRY.get_sample_value("auth_mail_outbox_pending") == 0


async def test_no_mailed_token_reaches_the_logs(
    auth: Auth, mail: MailCatcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await verified_user(auth, mail, "ada@example.com")
    await auth.http.post("/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = token_in(await mail.wait_for("ada@example.com", subject=RESET_SUBJECT))
    await auth.http.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )

    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if not record.name.startswith("mail.")  # aiosmtpd: the catcher, i.e. the recipient
    )
    assert "tsv_" not in logged
    assert "tsp_" not in logged
