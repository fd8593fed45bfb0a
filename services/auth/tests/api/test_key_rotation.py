"""Key rotation as auth's clients see it: the JWKS through the lifecycle, new tokens on the new
key, old tokens still good, and an emergency rotation ending a key's tokens at auth itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import jwt
import pytest
from auth_service.adapters.signing_key_store import SigningKeyStore
from auth_service.bootstrap import SEALED_SUCCESSOR_CLOCK_MARGIN
from auth_service.config import Settings

from ..service_helpers import exchange, with_service_clients  # noqa: TID252 (test helpers)
from ..session_support import (  # noqa: TID252 (shared test helpers)
    Auth,
    bearer,
    mobile_login,
    register,
    running,
)


@pytest.fixture
async def auth(settings: Settings) -> AsyncIterator[Auth]:
    async with running(with_service_clients(settings)) as running_auth:
        yield running_auth


def key_store(auth: Auth) -> SigningKeyStore:
    return auth.runtime.key_store


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


async def jwks_states(auth: Auth) -> dict[str, str]:
    """kid -> state, as the key store has it, for the kids the JWKS publishes."""
    published = (await auth.http.get("/.well-known/jwks.json")).json()["keys"]
    stored = {key.kid: key.state.value for key in await key_store(auth).records()}
    return {key["kid"]: stored[key["kid"]] for key in published}


async def rotate(auth: Auth) -> str:
    """A normal rotation once the next key may sign, seen by this replica; the new active kid."""
    auth.clock.advance(key_store(auth).schedule.lead.total_seconds())
    outcome = await key_store(auth).rotate(expected_active=auth.runtime.keys.signing_key.kid)
    await seen_by_this_replica(auth)
    assert outcome.active is not None
    assert auth.runtime.keys.signing_key.kid == outcome.active
    return outcome.active


async def seen_by_this_replica(auth: Auth) -> None:
    """Reload now (on PostgreSQL the NOTIFY may already have done it; then nothing changes)."""
    await auth.app.state.runtime.key_refresher.reload()


async def test_after_a_rotation_new_tokens_carry_the_new_kid_and_old_tokens_still_work(
    auth: Auth,
) -> None:
    await register(auth.http, "ada@example.com")
    before = await mobile_login(auth.http, "ada@example.com")
    jwks_before = await auth.http.get("/.well-known/jwks.json")

    new_kid = await rotate(auth)
    after = await mobile_login(auth.http, "ada@example.com")

    assert kid_of(after["access_token"]) == new_kid != kid_of(before["access_token"])
    for token in (before["access_token"], after["access_token"]):
        assert (await auth.http.get("/v1/users/me", headers=bearer(token))).status_code == 200
    states = await jwks_states(auth)
    assert states[kid_of(before["access_token"])] == "retired"
    assert states[new_kid] == "active"
    assert sorted(states.values()) == ["active", "next", "retired"]
    # verifiers revalidating with the old ETag get the new document, not a 304
    revalidated = await auth.http.get(
        "/.well-known/jwks.json", headers={"If-None-Match": jwks_before.headers["etag"]}
    )
    assert revalidated.status_code == 200
    assert revalidated.headers["etag"] != jwks_before.headers["etag"]


async def test_a_retired_key_leaves_the_jwks_once_its_tokens_have_expired(auth: Auth) -> None:
    old_kid = auth.runtime.keys.signing_key.kid
    await rotate(auth)
    schedule = key_store(auth).schedule

    auth.clock.advance(schedule.retention.total_seconds() - 1)
    await auth.app.state.runtime.maintenance.run_once()
    await seen_by_this_replica(auth)
    assert old_kid in await jwks_states(auth)

    auth.clock.advance(1)
    await auth.app.state.runtime.maintenance.run_once()
    await seen_by_this_replica(auth)
    assert old_kid not in await jwks_states(auth)


async def test_an_emergency_rotation_ends_the_keys_tokens_at_auth_but_not_the_session(
    auth: Auth,
) -> None:
    await register(auth.http, "ada@example.com")
    login = await mobile_login(auth.http, "ada@example.com")
    token = login["access_token"]
    me = await auth.http.get("/v1/users/me", headers=bearer(token))
    assert me.status_code == 200  # now in the verifier's cache too
    assert (await exchange(auth.http, token)).status_code == 200

    outcome = await key_store(auth).revoke(kid_of(token))
    await seen_by_this_replica(auth)
    assert auth.runtime.keys.signing_key.kid == outcome.active

    refused = await auth.http.get("/v1/users/me", headers=bearer(token))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert (await exchange(auth.http, token)).json()["error"] == "invalid_grant"
    assert kid_of(token) not in await jwks_states(auth)

    # the user is not logged out: the refresh token gets a token of the new key
    refreshed = await auth.http.post(
        "/v1/auth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "mobile",
            "refresh_token": login["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert kid_of(refreshed.json()["access_token"]) == outcome.active
    assert ("key", kid_of(token), None) in await auth.events()


async def test_the_maintenance_loop_clears_sealed_successors_once_the_grace_window_is_over(
    auth: Auth,
) -> None:
    await register(auth.http, "ada@example.com")
    login = await mobile_login(auth.http, "ada@example.com")
    form = {"grant_type": "refresh_token", "client_id": "mobile"}
    rotated = await auth.http.post(
        "/v1/auth/token", data={**form, "refresh_token": login["refresh_token"]}
    )
    assert rotated.status_code == 200

    await auth.app.state.runtime.maintenance.run_once()
    assert [row.sealed_successor is not None for row in await auth.refresh_token_rows()].count(
        True
    ) == 1  # inside the window: kept, so a lost response can still be retried

    # past the window, and past the margin kept for replicas whose clocks disagree a little
    auth.clock.advance(auth.runtime.settings.REFRESH_GRACE_SECONDS + 30)
    await auth.app.state.runtime.maintenance.run_once()
    assert any(row.sealed_successor is not None for row in await auth.refresh_token_rows())
    auth.clock.advance(SEALED_SUCCESSOR_CLOCK_MARGIN.total_seconds())
    await auth.app.state.runtime.maintenance.run_once()
    assert all(row.sealed_successor is None for row in await auth.refresh_token_rows())
