"""Ending sessions: each way kills exactly the sessions it should, with events and audit rows."""

from __future__ import annotations

import httpx
import pytest
from auth_service.adapters.models import AuditRow
from auth_service.config import Settings

from ..service_helpers import service_token, with_service_clients  # noqa: TID252
from ..session_support import (  # noqa: TID252 (shared test helpers)
    PASSWORD,
    Auth,
    bearer,
    enrol_totp,
    mobile_login,
    refresh_mobile,
    register,
    running,
)


async def _alive(auth: Auth, *refresh_tokens: str) -> list[bool]:
    """Whether each token can still refresh (and so whether its session lives)."""
    return [(await refresh_mobile(auth.http, token)).status_code == 200 for token in refresh_tokens]


async def test_sessions_lists_my_live_sessions_and_marks_the_current_one(auth: Auth) -> None:
    await register(auth.http, "ada@example.com")
    await register(auth.http, "bob@example.com")
    await mobile_login(auth.http, "ada@example.com")
    second = await mobile_login(auth.http, "ada@example.com")
    await mobile_login(auth.http, "bob@example.com")

    response = await auth.http.get(
        "/v1/sessions", headers={**bearer(second["access_token"]), "User-Agent": "phone/1"}
    )

    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 2
    assert [item["current"] for item in items] == [False, True]
    assert {"id", "client_id", "user_agent", "ip", "created_at", "last_used_at"} <= set(items[0])
    assert items[0]["client_id"] == "mobile"


async def test_deleting_a_session_ends_only_that_one_and_404s_for_someone_elses(
    auth: Auth,
) -> None:
    await register(auth.http, "ada@example.com")
    await register(auth.http, "bob@example.com")
    phone = await mobile_login(auth.http, "ada@example.com")
    tablet = await mobile_login(auth.http, "ada@example.com")
    bob = await mobile_login(auth.http, "bob@example.com")
    items = (await auth.http.get("/v1/sessions", headers=bearer(phone["access_token"]))).json()
    tablet_sid = next(item["id"] for item in items["items"] if not item["current"])
    bob_sid = (await auth.http.get("/v1/sessions", headers=bearer(bob["access_token"]))).json()[
        "items"
    ][0]["id"]

    assert (
        await auth.http.delete(f"/v1/sessions/{bob_sid}", headers=bearer(phone["access_token"]))
    ).status_code == 404
    response = await auth.http.delete(
        f"/v1/sessions/{tablet_sid}", headers=bearer(phone["access_token"])
    )

    assert response.status_code == 204
    assert await _alive(
        auth, phone["refresh_token"], tablet["refresh_token"], bob["refresh_token"]
    ) == [True, False, True]
    assert await auth.events() == [("session", tablet_sid, None)]
    assert "session.revoked" in await auth.audit_events()


async def _phone_and_tablet(auth: Auth) -> tuple[dict[str, str], dict[str, str]]:
    """ada, signed in on two devices."""
    await register(auth.http, "ada@example.com")
    return await mobile_login(auth.http, "ada@example.com"), await mobile_login(
        auth.http, "ada@example.com"
    )


async def _user_id(auth: Auth, access_token: str) -> str:
    me = await auth.http.get("/v1/users/me", headers=bearer(access_token))
    user_id: str = me.json()["id"]
    return user_id


async def _log_out(auth: Auth, access_token: str, refresh_token: str) -> httpx.Response:
    return await auth.http.post(
        "/v1/auth/logout", headers=bearer(access_token), json={"refresh_token": refresh_token}
    )


async def test_logout_with_the_bearer_token_ends_this_session_only(auth: Auth) -> None:
    phone, tablet = await _phone_and_tablet(auth)

    response = await _log_out(auth, phone["access_token"], phone["refresh_token"])

    assert response.status_code == 204
    assert await _alive(auth, phone["refresh_token"], tablet["refresh_token"]) == [False, True]
    # the ended session's access token is refused by auth itself at once
    me = await auth.http.get("/v1/sessions", headers=bearer(phone["access_token"]))
    assert me.status_code == 401
    assert [kind for kind, _, _ in await auth.events()] == ["session"]


async def test_logout_refuses_a_refresh_token_of_another_session_and_ends_nothing(
    auth: Auth,
) -> None:
    phone, tablet = await _phone_and_tablet(auth)

    response = await _log_out(auth, phone["access_token"], tablet["refresh_token"])

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "the refresh token does not belong to this access token's session",
    }
    assert await auth.events() == []
    assert await _alive(auth, phone["refresh_token"], tablet["refresh_token"]) == [True, True]


async def test_a_bearer_token_without_a_session_cannot_end_the_session_of_a_refresh_token(
    settings: Settings,
) -> None:
    async with running(with_service_clients(settings)) as auth:
        await register(auth.http, "ada@example.com")
        phone = await mobile_login(auth.http, "ada@example.com")
        no_sid = await service_token(auth.http, audience="auth")  # a valid token, no `sid`

        response = await auth.http.post(
            "/v1/auth/logout",
            headers=bearer(no_sid),
            json={"refresh_token": phone["refresh_token"]},
        )

        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert await auth.events() == []
        assert await _alive(auth, phone["refresh_token"]) == [True]


async def test_logout_without_credentials_is_401(auth: Auth) -> None:
    response = await auth.http.post("/v1/auth/logout")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_logout_all_ends_every_session_of_the_user_and_bumps_the_token_version(
    auth: Auth,
) -> None:
    await register(auth.http, "ada@example.com")
    ada_id = await auth.user_id("ada@example.com")
    await register(auth.http, "bob@example.com")
    phone = await mobile_login(auth.http, "ada@example.com")
    tablet = await mobile_login(auth.http, "ada@example.com")
    bob = await mobile_login(auth.http, "bob@example.com")

    response = await auth.http.post("/v1/auth/logout-all", headers=bearer(phone["access_token"]))

    assert response.status_code == 204
    assert await _alive(
        auth, phone["refresh_token"], tablet["refresh_token"], bob["refresh_token"]
    ) == [False, False, True]
    events = await auth.events()
    assert sorted(kind for kind, _, _ in events) == ["session", "session", "user"]
    assert ("user", ada_id, 2) in events
    stale = await auth.http.get("/v1/users/me", headers=bearer(tablet["access_token"]))
    assert stale.status_code == 401


async def _change_password(auth: Auth, access_token: str, current: str) -> httpx.Response:
    return await auth.http.post(
        "/v1/users/me/password",
        headers=bearer(access_token),
        json={"current_password": current, "new_password": "battery staple"},
    )


async def test_a_password_change_keeps_this_session_and_ends_the_others(auth: Auth) -> None:
    phone, tablet = await _phone_and_tablet(auth)
    ada_id = await _user_id(auth, phone["access_token"])

    wrong = await _change_password(auth, phone["access_token"], "wrong horse")
    response = await _change_password(auth, phone["access_token"], PASSWORD)

    assert (wrong.status_code, response.status_code) == (403, 204)
    assert await _alive(auth, phone["refresh_token"], tablet["refresh_token"]) == [True, False]
    assert ("user", ada_id, 2) in await auth.events()
    audit = await auth.audit_events()
    assert "password.change_failed" in audit
    assert "password.changed" in audit
    login = await auth.http.post(
        "/v1/auth/login",
        json={"email": "ada@example.com", "password": "battery staple", "client_id": "mobile"},
    )
    assert login.status_code == 200


async def test_a_wrong_current_password_is_403_not_401_and_changes_nothing(auth: Auth) -> None:
    phone, tablet = await _phone_and_tablet(auth)

    wrong = await _change_password(auth, phone["access_token"], "wrong horse")

    # the bearer token is fine (no RFC 6750 challenge, nothing for a client to refresh): the
    # change is what is refused
    assert wrong.status_code == 403
    assert wrong.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" not in wrong.headers
    assert wrong.json()["detail"] == "the current password is wrong"
    assert await _alive(auth, phone["refresh_token"], tablet["refresh_token"]) == [True, True]
    assert (await mobile_login(auth.http, "ada@example.com"))["access_token"]  # old password
    assert await auth.events() == []


async def test_wrong_current_passwords_are_rate_limited_per_user(settings: Settings) -> None:
    async with running(settings, LOGIN_RATE_LIMIT_PER_ACCOUNT="3/minute") as auth:
        await register(auth.http, "ada@example.com")
        await register(auth.http, "bob@example.com")
        ada = bearer((await mobile_login(auth.http, "ada@example.com"))["access_token"])
        bob = bearer((await mobile_login(auth.http, "bob@example.com"))["access_token"])

        async def change(headers: dict[str, str], current: str) -> httpx.Response:
            return await auth.http.post(
                "/v1/users/me/password",
                headers=headers,
                json={"current_password": current, "new_password": "battery staple"},
            )

        guesses = [(await change(ada, f"guess {n}")).status_code for n in range(3)]
        limited = await change(ada, PASSWORD)  # even the right one: no more argon2 for this user

        assert guesses == [403, 403, 403]
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert (await auth.audit_events()).count("password.change_failed") == 3
        # the password did not change, and ada's logins have their own budget
        assert (await mobile_login(auth.http, "ada@example.com"))["access_token"]
        assert (await change(bob, PASSWORD)).status_code == 204


async def _admin(auth: Auth) -> dict[str, str]:
    """An admin signed in with a second factor (admin operations require acr mfa)."""
    await auth.runtime.accounts.create_or_promote_admin(email="root@example.com", password=PASSWORD)
    login = await mobile_login(auth.http, "root@example.com")
    enrolled = await enrol_totp(auth, "root@example.com", login["access_token"])
    return bearer(enrolled.access_token)


async def test_an_admin_revokes_all_sessions_of_one_user(auth: Auth) -> None:
    await register(auth.http, "ada@example.com")
    ada_id = await auth.user_id("ada@example.com")
    await register(auth.http, "bob@example.com")
    ada = await mobile_login(auth.http, "ada@example.com")
    bob = await mobile_login(auth.http, "bob@example.com")
    admin = await _admin(auth)

    refused = await auth.http.post(
        f"/v1/admin/users/{ada_id}/revoke-sessions", headers=bearer(bob["access_token"])
    )
    response = await auth.http.post(f"/v1/admin/users/{ada_id}/revoke-sessions", headers=admin)

    assert (refused.status_code, response.status_code) == (403, 204)
    assert await _alive(auth, ada["refresh_token"], bob["refresh_token"]) == [False, True]
    assert ("user", ada_id, 2) in await auth.events()
    rows = await auth.rows(
        __import__("auth_service.adapters.audit_log").adapters.audit_log.AuditRow
    )
    (audit,) = [row for row in rows if row.event == "admin.revoke_sessions"]
    assert audit.user_id == ada_id
    assert audit.actor_id is not None


async def test_an_admin_role_change_makes_old_access_tokens_stale(auth: Auth) -> None:
    await register(auth.http, "ada@example.com")
    ada_id = await auth.user_id("ada@example.com")
    ada = await mobile_login(auth.http, "ada@example.com")
    admin = await _admin(auth)

    response = await auth.http.put(
        f"/v1/admin/users/{ada_id}/roles", headers=admin, json={"roles": ["user", "admin"]}
    )

    assert response.status_code == 200
    assert response.json()["roles"] == ["admin", "user"]
    assert ("user", ada_id, 2) in await auth.events()
    assert (
        await auth.http.get("/v1/users/me", headers=bearer(ada["access_token"]))
    ).status_code == 401
    refreshed = (await refresh_mobile(auth.http, ada["refresh_token"])).json()
    me = await auth.http.get("/v1/users/me", headers=bearer(refreshed["access_token"]))
    assert me.json()["roles"] == ["admin", "user"]


async def test_login_and_failed_login_are_audited_with_ip_and_user_agent(
    settings: Settings,
) -> None:
    async with running(settings, TRUSTED_PROXIES="127.0.0.1") as auth:
        await register(auth.http, "ada@example.com")
        headers = {"User-Agent": "tessera-test/1", "X-Forwarded-For": "203.0.113.7"}
        await auth.http.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": "nope", "client_id": "mobile"},
            headers=headers,
        )
        ok = await auth.http.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD, "client_id": "mobile"},
            headers=headers,
        )
        assert ok.status_code == 200
        rows = {row.event: row for row in await auth.rows(AuditRow)}

    assert (rows["login.failure"].ip, rows["login.success"].ip) == ("203.0.113.7", "203.0.113.7")
    assert rows["login.success"].user_agent == "tessera-test/1"
    assert PASSWORD not in str([(r.detail, r.user_agent) for r in rows.values()])
    assert ok.json()["refresh_token"] not in str([r.detail for r in rows.values()])


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Settings) -> None:
    async with running(settings, TRUSTED_PROXIES="10.0.0.1") as auth:
        await register(auth.http, "ada@example.com")
        login = await auth.http.post(
            "/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD, "client_id": "mobile"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        sessions = await auth.http.get("/v1/sessions", headers=bearer(login.json()["access_token"]))
        assert sessions.json()["items"][0]["ip"] == "127.0.0.1"


async def test_sessions_need_a_bearer_token(auth: Auth) -> None:
    assert (await auth.http.get("/v1/sessions")).status_code == 401


async def test_after_logout_every_bearer_endpoint_of_auth_refuses_the_access_token(
    auth: Auth,
) -> None:
    # Found from outside: orders refused the token within ~30 ms, /v1/users/me kept answering
    # 200 until it expired. auth now checks its own tokens against the revocation index too.
    phone, _ = await _phone_and_tablet(auth)
    headers = bearer(phone["access_token"])
    assert (await auth.http.get("/v1/users/me", headers=headers)).status_code == 200

    assert (await _log_out(auth, phone["access_token"], phone["refresh_token"])).status_code == 204

    calls = [
        auth.http.get("/v1/users/me", headers=headers),
        auth.http.get("/v1/sessions", headers=headers),
        auth.http.post("/v1/auth/logout-all", headers=headers),
        auth.http.post(
            "/v1/users/me/password",
            headers=headers,
            json={"current_password": PASSWORD, "new_password": "battery staple"},
        ),
    ]
    for answer in [await call for call in calls]:
        assert answer.status_code == 401, answer.request.url
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert "revoked" in answer.json()["detail"]


@pytest.mark.parametrize("body", [b"[" * 60_000, b'{"refresh_token": ' * 2000, b"\xff"])
async def test_a_malformed_body_at_token_or_logout_is_a_4xx_never_a_500(
    auth: Auth, body: bytes
) -> None:
    # Found from outside: 100,000 `[` made both endpoints answer 500 and log two tracebacks.
    await register(auth.http, "ada@example.com")
    phone = await mobile_login(auth.http, "ada@example.com")
    json_type = {"Content-Type": "application/json"}

    token = await auth.http.post("/v1/auth/token", content=body, headers=json_type)
    logout = await auth.http.post(
        "/v1/auth/logout", content=body, headers={**json_type, **bearer(phone["access_token"])}
    )

    assert (token.status_code, token.json()["error"]) == (400, "invalid_request")
    assert logout.status_code == 400
    assert logout.headers["content-type"] == "application/problem+json"
