"""Token exchange (RFC 8693): orders trades a user's token for a billing-only token acting as
itself; every refusal answers the RFC error the DESIGN names."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
from auth_service.config import Settings
from auth_service.domain.access_tokens import USER_AUDIENCE, AccessTokenGrant
from auth_service.domain.users import Role

from ..conftest import log_in, register  # noqa: TID252 (shared test helpers)
from ..service_helpers import (  # noqa: TID252 (shared test helpers)
    BILLING_SECRET,
    REPORTS_SECRET,
    MovableClock,
    RunningAuth,
    claims_of,
    exchange,
    running_auth,
    service_token,
    with_service_clients,
)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(time.time())


@pytest.fixture
async def auth(settings: Settings, clock: MovableClock) -> AsyncIterator[RunningAuth]:
    async with running_auth(with_service_clients(settings), clock) as running:
        yield running


@pytest.fixture
async def user_token(auth: RunningAuth) -> str:
    await register(auth.http, "ada@example.com", "correct horse")
    response = await log_in(auth.http, "ada@example.com", "correct horse", client_id="mobile")
    token: str = response.json()["access_token"]
    return token


async def test_exchange_gives_a_billing_only_token_acting_for_the_same_user(
    auth: RunningAuth, user_token: str
) -> None:
    response = await exchange(auth.http, user_token)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer"
    subject, exchanged = claims_of(user_token), claims_of(body["access_token"])
    # billing sees how the user authenticated, to demand a step-up (RFC 9470)
    for claim in ("sub", "sid", "ver", "roles", "iss", "auth_time", "acr", "amr"):
        assert exchanged[claim] == subject[claim], claim
    assert exchanged["aud"] == ["billing"]
    assert exchanged["scope"] == "billing:charge billing:refund invoices:read"
    assert exchanged["client_id"] == "orders"
    assert exchanged["act"] == {"sub": "orders"}
    assert exchanged["jti"] != subject["jti"]
    assert exchanged["exp"] <= subject["exp"]
    assert body["expires_in"] == exchanged["exp"] - exchanged["iat"]


async def test_the_exchanged_token_never_outlives_the_subject_token(
    auth: RunningAuth, user_token: str, clock: MovableClock
) -> None:
    clock.now += 200  # the subject has 100 s left of its 300

    response = await exchange(auth.http, user_token)

    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["exp"] == claims_of(user_token)["exp"]
    assert response.json()["expires_in"] == 100


async def test_a_scope_parameter_narrows_the_mapped_scopes(
    auth: RunningAuth, user_token: str
) -> None:
    response = await exchange(auth.http, user_token, scope="invoices:read")

    assert response.status_code == 200, response.text
    assert claims_of(response.json()["access_token"])["scope"] == "invoices:read"


async def test_an_expired_subject_token_is_invalid_grant(
    auth: RunningAuth, user_token: str, clock: MovableClock
) -> None:
    clock.now += 300 + 31  # past exp and the 30 s leeway

    response = await exchange(auth.http, user_token)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_a_subject_token_inside_the_leeway_but_past_exp_is_refused(
    auth: RunningAuth, user_token: str, clock: MovableClock
) -> None:
    clock.now += 305  # the verifier's leeway would accept it; exchange must not

    response = await exchange(auth.http, user_token)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_a_forged_subject_token_is_invalid_grant(auth: RunningAuth, user_token: str) -> None:
    header, payload, signature = user_token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"

    response = await exchange(auth.http, forged)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_a_service_token_is_not_a_subject(auth: RunningAuth) -> None:
    # reports may get tokens meant for orders: right audience, but no user behind it
    token = await service_token(
        auth.http, "reports", REPORTS_SECRET, audience="orders", scope="orders:read"
    )

    response = await exchange(auth.http, token)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert "not a user token" in response.json()["error_description"]


async def test_a_subject_token_not_meant_for_the_caller_is_refused(
    auth: RunningAuth, user_token: str
) -> None:
    exchanged = (await exchange(auth.http, user_token)).json()["access_token"]  # aud billing

    response = await exchange(auth.http, exchanged)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_an_already_delegated_subject_token_is_refused(
    auth: RunningAuth, user_token: str
) -> None:
    subject = claims_of(user_token)
    delegated = auth.app.state.runtime.token_issuer.issue(
        AccessTokenGrant(
            subject=subject["sub"],
            session_id=subject["sid"],
            client_id="mobile",
            audience=USER_AUDIENCE,
            scopes=tuple(subject["scope"].split()),
            roles=tuple(subject["roles"]),
            token_version=subject["ver"],
            actor="billing",
        )
    )

    response = await exchange(auth.http, delegated.token)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert "act" in response.json()["error_description"]


async def test_a_subject_token_of_a_logged_out_session_is_refused(
    auth: RunningAuth, user_token: str
) -> None:
    logout = await auth.http.post(
        "/v1/auth/logout", headers={"Authorization": f"Bearer {user_token}"}
    )
    assert logout.status_code == 204

    response = await exchange(auth.http, user_token)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_a_subject_token_older_than_the_users_token_version_is_refused(
    auth: RunningAuth, user_token: str
) -> None:
    async with auth.app.state.runtime.storage.unit_of_work() as uow:
        await uow.users.set_roles(uuid.UUID(claims_of(user_token)["sub"]), frozenset({Role.USER}))
        await uow.commit()

    response = await exchange(auth.http, user_token)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_an_audience_outside_the_rules_is_invalid_target(
    auth: RunningAuth, user_token: str
) -> None:
    response = await exchange(auth.http, user_token, audience="orders")

    assert (response.status_code, response.json()["error"]) == (400, "invalid_target")


async def test_a_client_without_exchange_rights_is_unauthorized_client(
    auth: RunningAuth, user_token: str
) -> None:
    response = await exchange(auth.http, user_token, client_id="billing", secret=BILLING_SECRET)

    assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {"subject_token": ""},
        {"audience": ""},
        {"actor_token": "x", "actor_token_type": "urn:ietf:params:oauth:token-type:jwt"},
    ],
    ids=["wrong subject type", "no subject", "no audience", "actor token"],
)
async def test_a_malformed_exchange_is_invalid_request(
    auth: RunningAuth, user_token: str, overrides: dict[str, str]
) -> None:
    form = dict(overrides)
    response = await exchange(auth.http, form.pop("subject_token", user_token), **form)

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_a_wrong_client_secret_is_401_invalid_client(
    auth: RunningAuth, user_token: str
) -> None:
    response = await exchange(auth.http, user_token, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.text


async def test_the_exchanged_token_is_refused_by_auth_itself(
    auth: RunningAuth, user_token: str
) -> None:
    exchanged = (await exchange(auth.http, user_token)).json()["access_token"]

    response = await auth.http.get("/v1/users/me", headers={"Authorization": f"Bearer {exchanged}"})

    assert response.status_code == 401  # aud is billing only
