"""Passkeys (DESIGN §11) against a software authenticator (`tessera_dev.software_passkey`):
registering behind a recent sign-in, passwordless sign-in at acr phr, and every bad answer
refused with nothing stored: another origin, a used or expired challenge, another credential's
signature, an unknown credential, a counter going backwards (a clone: refused, audited, and the
passkey flagged)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from auth_service.adapters.models import MailOutboxRow, PasskeyRow
from tessera_dev.software_passkey import SoftwarePasskey

from ..session_support import (  # noqa: TID252 (shared test helpers)
    ORIGIN,
    PASSWORD,
    Auth,
    bearer,
    enrol_totp,
    mark_verified,
    mobile_login,
    register,
)

EMAIL = "ada@example.com"


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


@pytest.fixture
async def signed_in(auth: Auth) -> dict[str, str]:
    await register(auth.http, EMAIL)
    await mark_verified(auth, EMAIL)
    return bearer((await mobile_login(auth.http, EMAIL))["access_token"])


async def add_passkey(
    auth: Auth, token: dict[str, str], passkey: SoftwarePasskey, name: str = "Laptop"
) -> httpx.Response:
    options = (await auth.http.post("/v1/users/me/passkeys/options", headers=token)).json()
    credential = passkey.register(options["publicKey"])
    return await auth.http.post(
        "/v1/users/me/passkeys",
        json={"challenge_id": options["challenge_id"], "credential": credential, "name": name},
        headers=token,
    )


async def sign_in_options(auth: Auth) -> dict[str, Any]:
    response = await auth.http.post("/v1/auth/passkey/options")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign_in(auth: Auth, challenge_id: str, credential: dict[str, Any]) -> httpx.Response:
    csrf = (await auth.http.get("/v1/auth/csrf")).json()["csrf_token"]
    return await auth.http.post(
        "/v1/auth/passkey/login",
        json={"challenge_id": challenge_id, "credential": credential, "client_id": "web"},
        headers={"X-CSRF-Token": csrf},
    )


async def passkey_sign_in(auth: Auth, passkey: SoftwarePasskey) -> httpx.Response:
    options = await sign_in_options(auth)
    return await sign_in(auth, options["challenge_id"], passkey.sign_in(options["publicKey"]))


async def test_a_registered_passkey_signs_in_without_a_password_at_acr_phr(
    auth: Auth, signed_in: dict[str, str]
) -> None:
    passkey = SoftwarePasskey(origin=ORIGIN)

    added = await add_passkey(auth, signed_in, passkey)
    listed = (await auth.http.get("/v1/users/me/passkeys", headers=signed_in)).json()
    options = await sign_in_options(auth)
    answered = await sign_in(auth, options["challenge_id"], passkey.sign_in(options["publicKey"]))

    assert added.status_code == 201, added.text
    assert [item["name"] for item in listed["items"]] == ["Laptop"]
    assert listed["items"][0]["flagged"] is False
    assert options["publicKey"]["rpId"] == "auth.example.test"
    assert options["publicKey"]["userVerification"] == "required"
    assert options["challenge_id"].startswith("wac_")
    assert answered.status_code == 200, answered.text
    token = claims(answered.json()["access_token"])
    assert (token["acr"], token["amr"]) == ("urn:tessera:acr:phr", ["hwk", "mfa"])
    assert "tessera_rt=tsr_" in answered.headers.get("set-cookie", "")
    assert "passkey_added" in [row.kind for row in await auth.rows(MailOutboxRow)]
    assert "passkey.added" in await auth.audit_events()


async def test_registration_needs_a_recent_sign_in_and_a_verified_address(auth: Auth) -> None:
    await register(auth.http, EMAIL)
    token = bearer((await mobile_login(auth.http, EMAIL))["access_token"])

    unverified = await auth.http.post("/v1/users/me/passkeys/options", headers=token)
    await mark_verified(auth, EMAIL)
    auth.clock.advance(301)
    stale = await auth.http.post("/v1/users/me/passkeys/options", headers=token)

    assert unverified.status_code == 403
    assert stale.status_code == 401
    assert 'error="insufficient_user_authentication"' in stale.headers["www-authenticate"]


async def test_bad_registrations_are_400_and_store_nothing(
    auth: Auth, signed_in: dict[str, str]
) -> None:
    async def attempt(passkey: SoftwarePasskey, **changes: Any) -> httpx.Response:
        options = (await auth.http.post("/v1/users/me/passkeys/options", headers=signed_in)).json()
        body = {
            "challenge_id": options["challenge_id"],
            "credential": passkey.register(options["publicKey"]),
            **changes,
        }
        return await auth.http.post("/v1/users/me/passkeys", json=body, headers=signed_in)

    phishing = await attempt(SoftwarePasskey(origin="https://auth.example.test.evil.example"))
    without_verification = await attempt(SoftwarePasskey(origin=ORIGIN, user_verified=False))
    malformed = await attempt(SoftwarePasskey(origin=ORIGIN), credential={"id": "x"})
    made_up_challenge = await attempt(SoftwarePasskey(origin=ORIGIN), challenge_id="wac_nope")
    options = (await auth.http.post("/v1/users/me/passkeys/options", headers=signed_in)).json()
    answer = SoftwarePasskey(origin=ORIGIN).register(options["publicKey"])
    body = {"challenge_id": options["challenge_id"], "credential": answer}
    first = await auth.http.post("/v1/users/me/passkeys", json=body, headers=signed_in)
    reused = await auth.http.post("/v1/users/me/passkeys", json=body, headers=signed_in)

    for refused in (phishing, without_verification, malformed, made_up_challenge, reused):
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"] == "urn:tessera:problem:passkey-rejected"
    assert first.status_code == 201
    assert len(await auth.rows(PasskeyRow)) == 1


async def test_bad_sign_ins_are_refused_and_audited(auth: Auth, signed_in: dict[str, str]) -> None:
    mine = SoftwarePasskey(origin=ORIGIN)
    assert (await add_passkey(auth, signed_in, mine)).status_code == 201
    stranger = SoftwarePasskey(origin=ORIGIN)
    stranger.user_handle = mine.user_handle

    unknown = await passkey_sign_in(auth, stranger)
    options = await sign_in_options(auth)
    forged = stranger.sign_in(options["publicKey"])
    forged["id"] = forged["rawId"] = mine.id  # another key's signature under my credential id
    signature_of_another = await sign_in(auth, options["challenge_id"], forged)
    phishing_page = SoftwarePasskey(origin="https://evil.example")
    phishing_page._key, phishing_page.credential_id = mine._key, mine.credential_id
    phishing_page.user_handle, phishing_page.sign_count = mine.user_handle, mine.sign_count
    from_another_origin = await passkey_sign_in(auth, phishing_page)
    options = await sign_in_options(auth)
    used = mine.sign_in(options["publicKey"])
    first = await sign_in(auth, options["challenge_id"], used)
    replayed = await sign_in(auth, options["challenge_id"], used)
    malformed = await sign_in(auth, (await sign_in_options(auth))["challenge_id"], {"id": 1})

    for refused in (unknown, signature_of_another, from_another_origin):
        assert refused.status_code == 401, refused.text
        assert refused.json()["type"] == "urn:tessera:problem:passkey-sign-in-refused"
    assert first.status_code == 200
    assert replayed.status_code == 400  # the challenge was used up
    assert malformed.status_code == 400
    assert {"passkey.unknown_credential", "passkey.assertion_refused"} <= set(
        await auth.audit_events()
    )


async def test_a_cloned_authenticator_is_refused_audited_and_the_passkey_flagged(
    auth: Auth, signed_in: dict[str, str]
) -> None:
    original = SoftwarePasskey(origin=ORIGIN)
    assert (await add_passkey(auth, signed_in, original)).status_code == 201
    clone = original.clone()

    by_original = await passkey_sign_in(auth, original)  # counter 1
    by_clone = await passkey_sign_in(auth, clone)  # counter 1 again: not growing
    original_again = await passkey_sign_in(auth, original)  # counter 2, but the key is suspect

    assert by_original.status_code == 200
    assert by_clone.status_code == original_again.status_code == 401
    assert "passkey.counter_regressed" in await auth.audit_events()
    listed = (await auth.http.get("/v1/users/me/passkeys", headers=signed_in)).json()
    assert listed["items"][0]["flagged"] is True


async def test_a_synced_passkey_keeps_a_zero_counter(auth: Auth, signed_in: dict[str, str]) -> None:
    synced = SoftwarePasskey(origin=ORIGIN, synced=True)
    assert (await add_passkey(auth, signed_in, synced)).status_code == 201

    answers = [await passkey_sign_in(auth, synced) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert claims(answers[0].json()["access_token"])["amr"] == ["swk", "mfa"]


async def test_removing_a_passkey_needs_a_recent_sign_in(
    auth: Auth, signed_in: dict[str, str]
) -> None:
    passkey = SoftwarePasskey(origin=ORIGIN)
    added = (await add_passkey(auth, signed_in, passkey)).json()
    auth.clock.advance(301)
    stale = await auth.http.delete(f"/v1/users/me/passkeys/{added['id']}", headers=signed_in)
    fresh = bearer((await mobile_login(auth.http, EMAIL))["access_token"])

    removed = await auth.http.delete(f"/v1/users/me/passkeys/{added['id']}", headers=fresh)
    again = await auth.http.delete(f"/v1/users/me/passkeys/{added['id']}", headers=fresh)
    after = await passkey_sign_in(auth, passkey)

    assert stale.status_code == 401
    assert removed.status_code == 204
    assert again.status_code == 404
    assert after.status_code == 401
    assert "passkey_removed" in [row.kind for row in await auth.rows(MailOutboxRow)]


async def test_passkey_sign_in_is_for_browsers_with_the_login_csrf_check(auth: Auth) -> None:
    options = await sign_in_options(auth)
    mobile = await auth.http.post(
        "/v1/auth/passkey/login",
        json={"challenge_id": options["challenge_id"], "credential": {}, "client_id": "mobile"},
    )
    without_csrf = await auth.http.post(
        "/v1/auth/passkey/login",
        json={"challenge_id": options["challenge_id"], "credential": {}, "client_id": "web"},
    )

    assert mobile.status_code == 422
    assert without_csrf.status_code == 403


async def test_a_passkey_is_the_second_step_of_a_password_login(
    auth: Auth, signed_in: dict[str, str]
) -> None:
    enrolled = await enrol_totp(auth, EMAIL, signed_in["Authorization"].split()[1])
    passkey = SoftwarePasskey(origin=ORIGIN)
    assert (await add_passkey(auth, bearer(enrolled.access_token), passkey)).status_code == 201
    first = await auth.http.post(
        "/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "client_id": "mobile"}
    )
    mfa_token = first.json()["mfa_token"]

    options = await auth.http.post("/v1/auth/passkey/options", json={"mfa_token": mfa_token})
    answer = passkey.sign_in(options.json()["publicKey"])
    completed = await auth.http.post(
        "/v1/auth/login/mfa",
        json={
            "mfa_token": mfa_token,
            "client_id": "mobile",
            "challenge_id": options.json()["challenge_id"],
            "credential": answer,
        },
    )
    dead_token = await auth.http.post("/v1/auth/passkey/options", json={"mfa_token": "tsm_x"})

    assert first.json()["methods"] == ["totp", "recovery_code", "passkey"]
    assert [item["id"] for item in options.json()["publicKey"]["allowCredentials"]] == [passkey.id]
    assert completed.status_code == 200, completed.text
    token = claims(completed.json()["access_token"])
    assert (token["acr"], token["amr"]) == ("urn:tessera:acr:phr", ["pwd", "hwk", "mfa"])
    assert dead_token.status_code == 401


async def test_a_passkey_steps_a_session_up_to_phr(auth: Auth, signed_in: dict[str, str]) -> None:
    passkey = SoftwarePasskey(origin=ORIGIN)
    assert (await add_passkey(auth, signed_in, passkey)).status_code == 201
    auth.clock.advance(200)

    options = (await auth.http.post("/v1/auth/passkey/options", headers=signed_in)).json()
    answer = passkey.sign_in(options["publicKey"])
    body = {"challenge_id": options["challenge_id"], "credential": answer}
    stepped = await auth.http.post("/v1/auth/step-up", json=body, headers=signed_in)
    reused = await auth.http.post("/v1/auth/step-up", json=body, headers=signed_in)
    half = await auth.http.post(
        "/v1/auth/step-up", json={"challenge_id": options["challenge_id"]}, headers=signed_in
    )

    assert stepped.status_code == 200, stepped.text
    token = claims(stepped.json()["access_token"])
    assert (token["acr"], token["auth_time"]) == ("urn:tessera:acr:phr", int(auth.clock.now))
    assert reused.status_code == 400  # the challenge was used up
    assert half.status_code == 422


async def test_a_refused_answer_uses_its_challenge_up(
    auth: Auth, signed_in: dict[str, str]
) -> None:
    options = (await auth.http.post("/v1/users/me/passkeys/options", headers=signed_in)).json()
    phishing = SoftwarePasskey(origin="https://evil.example").register(options["publicKey"])
    honest = SoftwarePasskey(origin=ORIGIN).register(options["publicKey"])

    refused = await auth.http.post(
        "/v1/users/me/passkeys",
        json={"challenge_id": options["challenge_id"], "credential": phishing},
        headers=signed_in,
    )
    retried = await auth.http.post(
        "/v1/users/me/passkeys",
        json={"challenge_id": options["challenge_id"], "credential": honest},
        headers=signed_in,
    )

    assert refused.status_code == retried.status_code == 400
    assert len(await auth.rows(PasskeyRow)) == 0


async def test_options_need_a_usable_passkey_and_answers_have_a_size_limit(
    auth: Auth, signed_in: dict[str, str]
) -> None:
    without_passkeys = await auth.http.post("/v1/auth/passkey/options", headers=signed_in)
    options = await sign_in_options(auth)
    huge = await sign_in(auth, options["challenge_id"], {"id": "x" * 20_000})

    assert without_passkeys.status_code == 400  # else the browser would offer any passkey
    assert huge.status_code == 422
