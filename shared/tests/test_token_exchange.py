"""TokenExchanger (RFC 8693) against a real HTTP token endpoint."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from tessera import (
    Principal,
    TokenExchangeError,
    TokenExchanger,
    current_principal_var,
    exchanged_token_source,
)

from .auth_double import AuthDouble
from .manual_clock import ManualClock


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http_client:
        yield http_client


def exchanger_for(
    base_url: str, client: httpx.AsyncClient, clock: ManualClock | None = None, **kwargs: object
) -> TokenExchanger:
    return TokenExchanger(
        token_url=f"{base_url}/v1/auth/token",
        client_id="orders",
        client_secret="s3cret+/=:",
        http_client=client,
        clock=clock or ManualClock(),
        **kwargs,  # type: ignore[arg-type]
    )


async def test_the_request_is_an_rfc8693_exchange_for_billing(
    auth: tuple[AuthDouble, str], client: httpx.AsyncClient
) -> None:
    double, base_url = auth
    exchanged = await exchanger_for(base_url, client).exchange("user-token-1")

    assert double.exchanged[exchanged] == "user-token-1"
    assert double.token_requests == [
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": "user-token-1",
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "audience": "billing",
        }
    ]


async def test_exchanged_tokens_are_cached_per_subject_until_shortly_before_expiry(
    auth: tuple[AuthDouble, str], client: httpx.AsyncClient
) -> None:
    double, base_url = auth
    clock = ManualClock()
    exchanger = exchanger_for(base_url, client, clock)
    first = await exchanger.exchange("user-token-1")
    other = await exchanger.exchange("user-token-2")
    clock.now += 107  # lifetime 120 s: renewed min(60, 12) = 12 s early
    assert await exchanger.exchange("user-token-1") == first
    clock.now += 2
    renewed = await exchanger.exchange("user-token-1")

    assert other != first
    assert renewed not in (first, other)
    assert len(double.token_requests) == 3


async def test_the_cache_is_keyed_by_a_digest_and_bounded(
    auth: tuple[AuthDouble, str], client: httpx.AsyncClient
) -> None:
    double, base_url = auth
    exchanger = exchanger_for(base_url, client, max_entries=3)
    for n in range(4):
        await exchanger.exchange(f"user-token-{n}")

    assert len(exchanger) == 3
    assert set(exchanger._cache) == {
        hashlib.sha256(f"user-token-{n}".encode()).digest() for n in (1, 2, 3)
    }
    await exchanger.exchange("user-token-0")  # evicted, least recently used
    assert len(double.token_requests) == 5


async def test_concurrent_exchanges_of_one_token_share_one_request(
    auth: tuple[AuthDouble, str], client: httpx.AsyncClient
) -> None:
    double, base_url = auth
    double.issue_delay = 0.05
    exchanger = exchanger_for(base_url, client)
    tokens = await asyncio.gather(*(exchanger.exchange("user-token-1") for _ in range(50)))

    assert len(set(tokens)) == 1
    assert len(double.token_requests) == 1


async def test_a_refused_subject_token_is_invalid_grant_and_not_cached(
    auth: tuple[AuthDouble, str], client: httpx.AsyncClient
) -> None:
    double, base_url = auth
    exchanger = exchanger_for(base_url, client)
    for _ in range(2):
        with pytest.raises(TokenExchangeError) as raised:
            await exchanger.exchange("revoked-user-token")
        assert raised.value.error == "invalid_grant"
        assert raised.value.subject_token_rejected

    assert len(double.token_requests) == 2
    assert len(exchanger) == 0


async def test_a_forbidden_audience_is_invalid_target_not_a_subject_problem(
    auth: tuple[AuthDouble, str], client: httpx.AsyncClient
) -> None:
    _, base_url = auth
    with pytest.raises(TokenExchangeError) as raised:
        await exchanger_for(base_url, client, audience="orders").exchange("user-token-1")

    assert raised.value.error == "invalid_target"
    assert not raised.value.subject_token_rejected


def principal_with(token: str) -> Principal:
    return Principal(
        sub="user-1",
        sid="session-1",
        client_id="web",
        scopes=frozenset({"orders:write"}),
        roles=frozenset(),
        ver=1,
        jti="jti-1",
        issued_at=0,
        expires_at=300,
        audience=("orders",),
        actor=None,
        token=token,
    )


async def test_the_token_source_exchanges_the_current_callers_token(
    auth: tuple[AuthDouble, str], client: httpx.AsyncClient
) -> None:
    double, base_url = auth
    source = exchanged_token_source(exchanger_for(base_url, client))
    assert await source() is None

    reset = current_principal_var.set(principal_with("user-token-9"))
    try:
        exchanged = await source()
    finally:
        current_principal_var.reset(reset)

    assert exchanged is not None
    assert double.exchanged[exchanged] == "user-token-9"
