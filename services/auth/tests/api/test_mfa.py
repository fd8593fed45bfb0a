"""TOTP MFA (DESIGN §11): enrolment behind a recent sign-in, the second login step with a code
or a recovery code (each accepted once), the `mfa_token`'s limits, step-up with the factor,
turning it off, and admin operations that require it. The app runs on a clock the test moves,
and the test computes codes from the secret as the user's authenticator app would."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import jwt
import pytest
from auth_service.adapters.models import MailOutboxRow, SessionRow
from auth_service.config import Settings

from ..session_support import (  # noqa: TID252 (shared test helpers)
    PASSWORD,
    Auth,
    Enrolled,
    bearer,
    enrol_totp,
    mark_verified,
    mobile_login,
    refresh_mobile,
    register,
    running,
    totp_code,
)

EMAIL = "ada@example.com"
STEP = 30


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


async def password_step(http: httpx.AsyncClient, client_id: str = "mobile") -> httpx.Response:
    return await http.post(
        "/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "client_id": client_id}
    )


async def mfa_token(auth: Auth) -> str:
    response = await password_step(auth.http)
    assert response.status_code == 401, response.text
    token: str = response.json()["mfa_token"]
    return token


async def second_step(auth: Auth, token: str, **factor: str) -> httpx.Response:
    return await auth.http.post(
        "/v1/auth/login/mfa", json={"mfa_token": token, "client_id": "mobile", **factor}
    )


@pytest.fixture
async def enrolled(auth: Auth) -> Enrolled:
    await register(auth.http, EMAIL)
    login = await mobile_login(auth.http, EMAIL)
    return await enrol_totp(auth, EMAIL, login["access_token"])


async def test_enrolment_is_pending_until_a_code_confirms_it(auth: Auth) -> None:
    await register(auth.http, EMAIL)
    await mark_verified(auth, EMAIL)
    token = bearer((await mobile_login(auth.http, EMAIL))["access_token"])

    begun = await auth.http.post("/v1/users/me/mfa/totp", headers=token)
    pending = (await auth.http.get("/v1/users/me/mfa", headers=token)).json()
    secret = begun.json()["secret"]
    wrong = await auth.http.post(
        "/v1/users/me/mfa/totp/confirm", json={"code": "000000"}, headers=token
    )
    still_password_only = await mobile_login(auth.http, EMAIL)
    confirmed = await auth.http.post(
        "/v1/users/me/mfa/totp/confirm",
        json={"code": totp_code(secret, auth.clock.now)},
        headers=token,
    )

    assert begun.status_code == 200
    assert begun.headers["cache-control"] == "no-store"
    assert begun.json()["otpauth_uri"].startswith("otpauth://totp/Tessera:ada%40example.com?")
    assert f"secret={secret}" in begun.json()["otpauth_uri"]
    assert begun.json()["qr_svg"].startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert pending == {"totp": "pending", "recovery_codes_left": 0}
    assert wrong.status_code == 403
    assert still_password_only["access_token"]  # a pending factor does not guard sign-in
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert claims(confirmed.json()["access_token"])["acr"] == "urn:tessera:acr:mfa"
    assert claims(confirmed.json()["access_token"])["amr"] == ["pwd", "otp", "mfa"]
    status = (await auth.http.get("/v1/users/me/mfa", headers=token)).json()
    assert status == {"totp": "on", "recovery_codes_left": 10}
    assert "mfa_enabled" in [row.kind for row in await auth.rows(MailOutboxRow)]
    assert {"mfa.totp_pending", "mfa.totp_enabled"} <= set(await auth.audit_events())


async def test_enrolling_needs_a_recent_sign_in_and_a_verified_address(auth: Auth) -> None:
    await register(auth.http, EMAIL)
    token = bearer((await mobile_login(auth.http, EMAIL))["access_token"])

    unverified = await auth.http.post("/v1/users/me/mfa/totp", headers=token)
    await mark_verified(auth, EMAIL)
    auth.clock.advance(301)
    stale = await auth.http.post("/v1/users/me/mfa/totp", headers=token)

    assert unverified.status_code == 403
    assert unverified.json()["type"].endswith("email-not-verified")
    assert stale.status_code == 401
    assert 'error="insufficient_user_authentication"' in stale.headers["www-authenticate"]
    assert 'max_age="300"' in stale.headers["www-authenticate"]
    assert stale.json()["max_age"] == 300


async def test_enrolling_again_replaces_a_pending_secret_and_keeps_an_active_one(
    auth: Auth,
) -> None:
    await register(auth.http, EMAIL)
    await mark_verified(auth, EMAIL)
    token = bearer((await mobile_login(auth.http, EMAIL))["access_token"])
    first = (await auth.http.post("/v1/users/me/mfa/totp", headers=token)).json()["secret"]
    second = (await auth.http.post("/v1/users/me/mfa/totp", headers=token)).json()["secret"]

    with_first = await auth.http.post(
        "/v1/users/me/mfa/totp/confirm",
        json={"code": totp_code(first, auth.clock.now)},
        headers=token,
    )
    with_second = await auth.http.post(
        "/v1/users/me/mfa/totp/confirm",
        json={"code": totp_code(second, auth.clock.now)},
        headers=token,
    )
    mfa_token = bearer(with_second.json()["access_token"])
    again = await auth.http.post("/v1/users/me/mfa/totp", headers=mfa_token)

    assert first != second
    assert with_first.status_code == 403
    assert with_second.status_code == 200
    assert again.status_code == 409
    assert (await auth.http.get("/v1/users/me/mfa", headers=mfa_token)).json()["totp"] == "on"


async def test_login_with_mfa_takes_a_code_after_the_password(
    auth: Auth, enrolled: Enrolled
) -> None:
    sessions_before = len(await auth.rows(SessionRow))
    auth.clock.advance(STEP)
    first = await password_step(auth.http)

    body = first.json()
    completed = await second_step(
        auth, body["mfa_token"], code=totp_code(enrolled.secret, auth.clock.now)
    )

    assert first.status_code == 401
    assert first.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" not in first.headers
    assert body["type"] == "urn:tessera:problem:mfa-required"
    assert body["mfa_token"].startswith("tsm_")
    assert body["methods"] == ["totp", "recovery_code"]
    assert completed.status_code == 200, completed.text
    assert completed.headers["cache-control"] == "no-store"
    token = claims(completed.json()["access_token"])
    assert (token["acr"], token["amr"]) == ("urn:tessera:acr:mfa", ["pwd", "otp", "mfa"])
    assert len(await auth.rows(SessionRow)) == sessions_before + 1
    refreshed = await refresh_mobile(auth.http, completed.json()["refresh_token"])
    assert claims(refreshed.json()["access_token"])["acr"] == "urn:tessera:acr:mfa"


async def test_a_code_is_accepted_once_and_within_one_step_of_skew(
    auth: Auth, enrolled: Enrolled
) -> None:
    auth.clock.advance(STEP)
    code = totp_code(enrolled.secret, auth.clock.now)
    used = await second_step(auth, await mfa_token(auth), code=code)
    replayed = await second_step(auth, await mfa_token(auth), code=code)
    ahead = await second_step(
        auth, await mfa_token(auth), code=totp_code(enrolled.secret, auth.clock.now + STEP)
    )
    too_far = await second_step(
        auth, await mfa_token(auth), code=totp_code(enrolled.secret, auth.clock.now + 3 * STEP)
    )
    older_than_the_last_used = await second_step(
        auth, await mfa_token(auth), code=totp_code(enrolled.secret, auth.clock.now - STEP)
    )

    assert used.status_code == 200
    assert ahead.status_code == 200  # the next step's code: a clock a little ahead
    for refused in (replayed, too_far, older_than_the_last_used):
        assert refused.status_code == 401
        assert refused.json()["type"] == "urn:tessera:problem:mfa-code-invalid"
    assert (await auth.audit_events()).count("login.mfa_failure") == 3


async def test_two_concurrent_logins_cannot_both_use_one_code(
    auth: Auth, enrolled: Enrolled
) -> None:
    auth.clock.advance(STEP)
    code = totp_code(enrolled.secret, auth.clock.now)
    tokens = [await mfa_token(auth), await mfa_token(auth)]

    answers = await asyncio.gather(*(second_step(auth, token, code=code) for token in tokens))

    assert sorted(answer.status_code for answer in answers) == [200, 401]


async def test_a_recovery_code_signs_in_once(auth: Auth, enrolled: Enrolled) -> None:
    code = enrolled.recovery_codes[3]

    used = await second_step(auth, await mfa_token(auth), recovery_code=code.upper())
    again = await second_step(auth, await mfa_token(auth), recovery_code=code)
    another_users = await second_step(auth, await mfa_token(auth), recovery_code="abcd-efgh")

    assert used.status_code == 200, used.text
    assert claims(used.json()["access_token"])["acr"] == "urn:tessera:acr:mfa"
    assert again.status_code == another_users.status_code == 401
    status = await auth.http.get("/v1/users/me/mfa", headers=bearer(used.json()["access_token"]))
    assert status.json()["recovery_codes_left"] == 9


async def test_an_mfa_token_is_single_use_bound_to_its_client_and_short_lived(
    auth: Auth, enrolled: Enrolled
) -> None:
    auth.clock.advance(STEP)
    token = await mfa_token(auth)
    used = await second_step(auth, token, code=totp_code(enrolled.secret, auth.clock.now))
    twice = await second_step(auth, token, code=totp_code(enrolled.secret, auth.clock.now + STEP))
    mobile_token = await mfa_token(auth)
    other_client = await auth.http.post(
        "/v1/auth/login/mfa",
        json={"mfa_token": mobile_token, "client_id": "web", "code": "123456"},
        headers={"X-CSRF-Token": (await auth.http.get("/v1/auth/csrf")).json()["csrf_token"]},
    )
    expiring = await mfa_token(auth)
    auth.clock.advance(301)
    expired = await second_step(auth, expiring, code=totp_code(enrolled.secret, auth.clock.now))
    made_up = await second_step(auth, "tsm_made-up", code="123456")

    assert used.status_code == 200
    for refused in (twice, other_client, expired, made_up):
        assert refused.status_code == 401
        assert refused.json()["type"] == "urn:tessera:problem:mfa-token-invalid"


async def test_an_mfa_token_dies_after_five_wrong_codes(auth: Auth, enrolled: Enrolled) -> None:
    auth.clock.advance(STEP)
    token = await mfa_token(auth)
    wrong = [await second_step(auth, token, code="000000") for _ in range(5)]

    right = await second_step(auth, token, code=totp_code(enrolled.secret, auth.clock.now))

    assert [answer.json()["type"].rsplit(":", 1)[1] for answer in wrong] == ["mfa-code-invalid"] * 5
    assert right.status_code == 401
    assert right.json()["type"] == "urn:tessera:problem:mfa-token-invalid"


async def test_malformed_second_steps_are_422(auth: Auth) -> None:
    both = await second_step(auth, "tsm_x", code="123456", recovery_code="abcd")
    neither = await second_step(auth, "tsm_x")
    too_long = await second_step(auth, "tsm_x", code="1" * 65)

    assert both.status_code == neither.status_code == too_long.status_code == 422


async def test_with_mfa_a_step_up_takes_a_code_not_the_password(
    auth: Auth, enrolled: Enrolled
) -> None:
    token = bearer(enrolled.access_token)
    auth.clock.advance(120)

    with_password = await auth.http.post(
        "/v1/auth/step-up", json={"password": PASSWORD}, headers=token
    )
    with_code = await auth.http.post(
        "/v1/auth/step-up",
        json={"code": totp_code(enrolled.secret, auth.clock.now)},
        headers=token,
    )
    with_recovery_code = await auth.http.post(
        "/v1/auth/step-up", json={"recovery_code": enrolled.recovery_codes[0]}, headers=token
    )
    two_at_once = await auth.http.post(
        "/v1/auth/step-up", json={"password": PASSWORD, "code": "123456"}, headers=token
    )

    assert with_password.status_code == 403
    assert with_password.json()["type"] == "urn:tessera:problem:step-up-method"
    assert with_password.json()["methods"] == ["totp", "recovery_code"]
    assert with_code.status_code == 200, with_code.text
    stepped = claims(with_code.json()["access_token"])
    assert (stepped["auth_time"], stepped["acr"]) == (int(auth.clock.now), "urn:tessera:acr:mfa")
    assert with_recovery_code.status_code == 200
    assert two_at_once.status_code == 422


async def test_without_mfa_a_step_up_code_is_refused(auth: Auth) -> None:
    await register(auth.http, EMAIL)
    token = bearer((await mobile_login(auth.http, EMAIL))["access_token"])

    refused = await auth.http.post("/v1/auth/step-up", json={"code": "123456"}, headers=token)

    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:tessera:problem:step-up-method"
    assert refused.json()["methods"] == ["password"]


async def test_turning_mfa_off_needs_the_factor_within_five_minutes(
    auth: Auth, enrolled: Enrolled
) -> None:
    token = bearer(enrolled.access_token)
    auth.clock.advance(301)
    stale = await auth.http.delete("/v1/users/me/mfa/totp", headers=token)
    stepped = await auth.http.post(
        "/v1/auth/step-up",
        json={"code": totp_code(enrolled.secret, auth.clock.now)},
        headers=token,
    )
    fresh = bearer(stepped.json()["access_token"])

    disabled = await auth.http.delete("/v1/users/me/mfa/totp", headers=fresh)
    twice = await auth.http.delete("/v1/users/me/mfa/totp", headers=fresh)

    assert stale.status_code == 401
    assert 'acr_values="urn:tessera:acr:mfa"' in stale.headers["www-authenticate"]
    assert disabled.status_code == 204
    assert twice.status_code == 404
    assert (await auth.http.get("/v1/users/me/mfa", headers=fresh)).json() == {
        "totp": "off",
        "recovery_codes_left": 0,
    }
    assert (await mobile_login(auth.http, EMAIL))["access_token"]  # the password alone again
    assert "mfa_disabled" in [row.kind for row in await auth.rows(MailOutboxRow)]


async def test_new_recovery_codes_replace_the_old_ones(auth: Auth, enrolled: Enrolled) -> None:
    regenerated = await auth.http.post(
        "/v1/users/me/mfa/recovery-codes", headers=bearer(enrolled.access_token)
    )

    old = await second_step(auth, await mfa_token(auth), recovery_code=enrolled.recovery_codes[0])
    new_codes = regenerated.json()["recovery_codes"]
    new = await second_step(auth, await mfa_token(auth), recovery_code=new_codes[0])

    assert regenerated.status_code == 200
    assert set(new_codes).isdisjoint(enrolled.recovery_codes)
    assert old.status_code == 401
    assert new.status_code == 200
    assert "recovery_codes_regenerated" in [row.kind for row in await auth.rows(MailOutboxRow)]


async def test_admin_operations_need_a_second_factor_used_within_15_minutes(auth: Auth) -> None:
    await register(auth.http, EMAIL)
    user_id = await auth.user_id(EMAIL)
    await auth.runtime.accounts.create_or_promote_admin(email="root@example.com", password=PASSWORD)
    login = await mobile_login(auth.http, "root@example.com")
    url = f"/v1/admin/users/{user_id}/revoke-sessions"

    without_mfa = await auth.http.post(url, headers=bearer(login["access_token"]))
    enrolled = await enrol_totp(auth, "root@example.com", login["access_token"])
    with_mfa = await auth.http.post(url, headers=bearer(enrolled.access_token))
    auth.clock.advance(901)
    stale = await auth.http.post(url, headers=bearer(enrolled.access_token))

    assert without_mfa.status_code == 401
    challenge = without_mfa.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="urn:tessera:acr:mfa"' in challenge
    assert 'max_age="900"' in challenge
    assert with_mfa.status_code == 204
    assert stale.status_code == 401


async def test_wrong_codes_from_many_ips_count_against_the_account_like_wrong_passwords(
    settings: Settings,
) -> None:
    # a guesser who has the password rotates addresses and mfa_tokens: the account's ceiling,
    # which no client IP escapes, closes new IPs; the owner's usual address stays open
    async with running(
        settings, TRUSTED_PROXIES="127.0.0.1", LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT="4/minute"
    ) as auth:
        await register(auth.http, EMAIL)
        home = {"X-Forwarded-For": "198.51.100.1"}
        body = {"email": EMAIL, "password": PASSWORD, "client_id": "mobile"}
        login = (await auth.http.post("/v1/auth/login", json=body, headers=home)).json()
        enrolled = await enrol_totp(auth, EMAIL, login["access_token"])

        async def guess(ip: str) -> int:
            address = {"X-Forwarded-For": ip}
            first = await auth.http.post("/v1/auth/login", json=body, headers=address)
            if first.status_code != 401:
                return first.status_code
            token = first.json()["mfa_token"]
            second = await auth.http.post(
                "/v1/auth/login/mfa",
                json={"mfa_token": token, "client_id": "mobile", "code": "000000"},
                headers=address,
            )
            return second.status_code

        guesses = [await guess(f"203.0.113.{n}") for n in range(5)]
        auth.clock.advance(STEP)
        at_home = await auth.http.post("/v1/auth/login", json=body, headers=home)
        owner = await auth.http.post(
            "/v1/auth/login/mfa",
            json={
                "mfa_token": at_home.json()["mfa_token"],
                "client_id": "mobile",
                "code": totp_code(enrolled.secret, auth.clock.now),
            },
            headers=home,
        )

    assert guesses == [401, 401, 401, 401, 429]
    assert owner.status_code == 200


async def test_confirming_needs_a_recent_sign_in_a_live_enrolment_and_has_a_budget(
    settings: Settings,
) -> None:
    # a stolen token must not be able to guess a pending enrolment's 6-digit code at leisure
    async with running(settings, LOGIN_RATE_LIMIT_PER_ACCOUNT="3/minute") as auth:
        await register(auth.http, EMAIL)
        await mark_verified(auth, EMAIL)
        token = bearer((await mobile_login(auth.http, EMAIL))["access_token"])
        secret = (await auth.http.post("/v1/users/me/mfa/totp", headers=token)).json()["secret"]

        async def confirm(code: str) -> httpx.Response:
            return await auth.http.post(
                "/v1/users/me/mfa/totp/confirm", json={"code": code}, headers=token
            )

        guesses = [(await confirm("000000")).status_code for _ in range(2)]
        in_budget = await confirm(totp_code(secret, auth.clock.now))  # a success clears it
        # the confirmation authenticated the session with the factor: it may turn it off again
        assert (await auth.http.delete("/v1/users/me/mfa/totp", headers=token)).status_code == 204

        fresh = bearer((await mobile_login(auth.http, EMAIL))["access_token"])
        late = (await auth.http.post("/v1/users/me/mfa/totp", headers=fresh)).json()["secret"]
        auth.clock.advance(301)
        stale = [
            await auth.http.post(
                "/v1/users/me/mfa/totp/confirm",
                json={"code": totp_code(late, auth.clock.now)},
                headers=fresh,
            )
            for _ in range(4)
        ]

    assert guesses == [403, 403]
    assert in_budget.status_code == 200, in_budget.text
    assert [answer.status_code for answer in stale] == [401, 401, 401, 429]
    assert 'error="insufficient_user_authentication"' in stale[0].headers["www-authenticate"]


async def test_an_enrolment_not_confirmed_within_ten_minutes_is_void(auth: Auth) -> None:
    await register(auth.http, EMAIL)
    await mark_verified(auth, EMAIL)
    login = await mobile_login(auth.http, EMAIL)
    token = bearer(login["access_token"])
    secret = (await auth.http.post("/v1/users/me/mfa/totp", headers=token)).json()["secret"]
    auth.clock.advance(601)
    refreshed = (await refresh_mobile(auth.http, login["refresh_token"])).json()
    stepped = await auth.http.post(
        "/v1/auth/step-up", json={"password": PASSWORD}, headers=bearer(refreshed["access_token"])
    )

    late = await auth.http.post(
        "/v1/users/me/mfa/totp/confirm",
        json={"code": totp_code(secret, auth.clock.now)},
        headers=bearer(stepped.json()["access_token"]),
    )

    assert late.status_code == 409
