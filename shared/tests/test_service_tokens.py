"""ServiceTokenProvider against a real HTTP token endpoint (client_credentials)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tessera import ServiceAuthError, ServiceTokenProvider

from .auth_double import AuthDouble
from .manual_clock import ManualClock


def provider_for(
    base_url: str, clock: ManualClock, *, secret: str = "s3cret+/=:", client: httpx.AsyncClient
) -> ServiceTokenProvider:
    return ServiceTokenProvider(
        token_url=f"{base_url}/v1/auth/token",
        client_id="orders",
        client_secret=secret,
        audience="auth",
        scope="revocations:read",
        http_client=client,
        clock=clock,
    )


async def test_the_grant_is_client_credentials_with_audience_and_scope(
    auth: tuple[AuthDouble, str],
) -> None:
    double, base_url = auth
    async with httpx.AsyncClient() as client:
        token = await provider_for(base_url, ManualClock(), client=client).token()

    assert double.service_tokens[token] == frozenset({"revocations:read"})
    assert double.token_requests == [
        {"grant_type": "client_credentials", "audience": "auth", "scope": "revocations:read"}
    ]


async def test_the_token_is_cached_and_renewed_shortly_before_it_expires(
    auth: tuple[AuthDouble, str],
) -> None:
    double, base_url = auth
    clock = ManualClock()
    async with httpx.AsyncClient() as client:
        provider = provider_for(base_url, clock, client=client)
        first = await provider.token()
        clock.now += 269  # lifetime 300 s: renewed min(60, 30) = 30 s early
        assert await provider.token() == first
        clock.now += 2
        second = await provider.token()

    assert second != first
    assert len(double.token_requests) == 2


async def test_fifty_concurrent_callers_share_one_request(auth: tuple[AuthDouble, str]) -> None:
    double, base_url = auth
    double.issue_delay = 0.05
    async with httpx.AsyncClient() as client:
        provider = provider_for(base_url, ManualClock(), client=client)
        tokens = await asyncio.gather(*(provider.token() for _ in range(50)))

    assert len(set(tokens)) == 1
    assert len(double.token_requests) == 1


async def test_a_wrong_secret_is_an_invalid_client_error(auth: tuple[AuthDouble, str]) -> None:
    _, base_url = auth
    async with httpx.AsyncClient() as client:
        provider = provider_for(base_url, ManualClock(), secret="wrong", client=client)
        with pytest.raises(ServiceAuthError) as raised:
            await provider.token()

    assert raised.value.error == "invalid_client"
    assert raised.value.status_code == 401
    assert "wrong" not in str(raised.value)


async def test_a_still_valid_token_is_used_while_auth_is_unreachable(
    auth: tuple[AuthDouble, str],
) -> None:
    double, base_url = auth
    clock = ManualClock()
    async with httpx.AsyncClient() as client:
        provider = provider_for(base_url, clock, client=client)
        token = await provider.token()
        double.clients.clear()  # every renewal now fails
        clock.now += 290
        assert await provider.token() == token
        clock.now += 11  # expired
        with pytest.raises(ServiceAuthError):
            await provider.token()


async def test_invalidate_forces_a_new_token(auth: tuple[AuthDouble, str]) -> None:
    double, base_url = auth
    async with httpx.AsyncClient() as client:
        provider = provider_for(base_url, ManualClock(), client=client)
        first = await provider.token()
        provider.invalidate()
        assert await provider.token() != first
    assert len(double.token_requests) == 2


async def test_an_unreachable_auth_is_temporarily_unavailable() -> None:
    async with httpx.AsyncClient() as client:
        provider = provider_for("http://127.0.0.1:9", ManualClock(), client=client)
        with pytest.raises(ServiceAuthError) as raised:
            await provider.token()
    assert raised.value.error == "temporarily_unavailable"
    assert raised.value.status_code is None
