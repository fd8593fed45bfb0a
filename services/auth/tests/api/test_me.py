"""GET /v1/users/me: the bearer's own profile, verified with the shared TokenVerifier."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from auth_service.adapters.rate_limits import RateLimiter
from auth_service.adapters.storage import open_storage
from auth_service.config import Settings
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher
from auth_service.use_cases.accounts import Accounts
from auth_service.use_cases.mailing import MailLinks

from ..conftest import log_in, register  # noqa: TID252 (shared test helpers)


async def access_token(client: httpx.AsyncClient, email: str) -> str:
    response = await log_in(client, email, "correct horse")
    token: str = response.json()["access_token"]
    return token


async def test_the_bearer_sees_their_own_profile(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com", "correct horse")
    token = await access_token(client, "ada@example.com")

    response = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert set(response.json()) == {"id", "email", "email_verified", "roles", "created_at"}
    assert response.json()["email"] == "ada@example.com"
    assert response.json()["email_verified"] is False  # EMAIL_VERIFICATION=optional here
    assert response.json()["roles"] == ["user"]


async def test_no_token_is_a_401_with_a_bare_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_forged_token_is_a_401_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/users/me", headers={"Authorization": "Bearer a.b.c"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_a_token_minted_before_a_role_change_is_stale(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await register(client, "ada@example.com", "correct horse")
    old_token = await access_token(client, "ada@example.com")
    hasher = PasswordHasher(Argon2Parameters(time_cost=1, memory_kib=1024, parallelism=1))
    try:
        async with open_storage(settings.DATABASE_URL) as storage:
            accounts = Accounts(
                storage.unit_of_work,
                hasher,
                RateLimiter.create(None, {}),
                lambda: datetime.now(UTC),
                MailLinks(settings.app_url),
            )
            async with storage.unit_of_work() as uow:  # only a verified address is promoted
                user = await uow.users.get_by_email("ada@example.com")
                assert user is not None
                await uow.users.mark_email_verified(user.id, now=datetime.now(UTC))
                await uow.commit()
            await accounts.create_or_promote_admin(email="ada@example.com", password=None)
    finally:
        hasher.close()

    stale = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {old_token}"})
    new_token = await access_token(client, "ada@example.com")
    fresh = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {new_token}"})

    assert stale.status_code == 401
    assert stale.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert (fresh.status_code, fresh.json()["roles"]) == (200, ["admin", "user"])
