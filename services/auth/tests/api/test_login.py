"""POST /v1/auth/login: tokens for good credentials, one generic 401 for anything else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from auth_service.config import Settings
from auth_service.domain.passwords import Argon2Parameters, PasswordCheck, PasswordHasher
from auth_service.main import create_app

from ..conftest import log_in, register  # noqa: TID252 (shared test helpers)


async def test_good_credentials_get_an_uncacheable_bearer_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await register(client, "ada@example.com", "correct horse")
    response = await log_in(client, "ADA@example.com", "correct horse", client_id="mobile")
    me = await client.get(
        "/v1/users/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["refresh_token"].startswith("tsr_")
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 300)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["client_id"], claims["iss"]) == (
        me.json()["id"],
        "mobile",
        settings.ISSUER,
    )


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong horse"), ("nobody@example.com", "correct horse")],
)
async def test_any_bad_credential_gets_the_same_generic_401(
    client: httpx.AsyncClient, email: str, password: str
) -> None:
    await register(client, "ada@example.com", "correct horse")
    response = await log_in(client, email, password)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "invalid email or password"
    assert "access_token" not in response.text


async def test_an_unknown_client_id_is_a_422(client: httpx.AsyncClient) -> None:
    response = await log_in(client, "ada@example.com", "correct horse", client_id="desktop")
    assert response.status_code == 422


class CountingHasher(PasswordHasher):
    """The real argon2id hasher, counting the verifications it performs."""

    verifications = 0

    async def verify(self, password_hash: str, password: str) -> PasswordCheck:
        self.verifications += 1
        return await super().verify(password_hash, password)


@pytest.fixture
async def counted(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, CountingHasher]]:
    hasher = CountingHasher(Argon2Parameters(time_cost=1, memory_kib=1024, parallelism=1))
    app = create_app(settings, password_hasher=hasher)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://auth.internal") as http,
    ):
        yield http, hasher


async def test_an_unknown_email_costs_one_password_verification_like_a_wrong_password(
    counted: tuple[httpx.AsyncClient, CountingHasher],
) -> None:
    client, hasher = counted
    await register(client, "ada@example.com", "correct horse")

    costs = {}
    for email in ("ada@example.com", "nobody@example.com"):
        before = hasher.verifications
        assert (await log_in(client, email, "wrong horse")).status_code == 401
        costs[email] = hasher.verifications - before
    assert costs == {"ada@example.com": 1, "nobody@example.com": 1}


async def test_login_rehashes_a_password_hashed_with_older_parameters(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await register(client, "ada@example.com", "correct horse")
    stronger = settings.model_copy(update={"PASSWORD_HASH_TIME_COST": 2})
    app = create_app(stronger)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://auth.internal") as upgraded,
    ):
        runtime = app.state.runtime
        async with runtime.storage.unit_of_work() as uow:
            old_hash = (await uow.users.get_by_email("ada@example.com")).password_hash
        assert (await log_in(upgraded, "ada@example.com", "correct horse")).status_code == 200
        async with runtime.storage.unit_of_work() as uow:
            new_hash = (await uow.users.get_by_email("ada@example.com")).password_hash
        assert ",t=1," in old_hash
        assert ",t=2," in new_hash
        assert (await log_in(upgraded, "ada@example.com", "correct horse")).status_code == 200
