"""The mobile client against the real auth service (in process): sign-in, bearer calls, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tessera_mobile.client import TesseraClient
from tessera_mobile.errors import ApiError, NotSignedInError
from tessera_mobile.store import TokenStore

Account = Callable[[], tuple[str, str]]
ClientFactory = Callable[..., TesseraClient]


async def test_a_signed_in_client_calls_apis_with_its_bearer_token(
    make_client: ClientFactory, sent_paths: list[str], new_account: Account
) -> None:
    email, password = new_account()
    async with make_client() as client:
        await client.register(email, password)
        await client.login(email, password)

        me = await client.me()

    assert me["email"] == email
    assert "/v1/auth/token" not in sent_paths


async def test_a_wrong_password_is_reported_with_the_servers_explanation(
    make_client: ClientFactory, device_store: TokenStore, new_account: Account
) -> None:
    email, password = new_account()
    async with make_client() as client:
        await client.register(email, password)

        with pytest.raises(ApiError) as raised:
            await client.login(email, password + "-wrong")

    assert raised.value.status == 401
    assert str(raised.value).startswith("401 ")
    assert device_store.load() is None


async def test_registering_a_taken_address_answers_like_a_new_one(
    make_client: ClientFactory, new_account: Account
) -> None:
    email, password = new_account()
    async with make_client() as client:
        first = await client.register(email, password)
        again = await client.register(email, password)

    assert first == again == {"email": email, "status": "verification_sent"}


async def test_a_client_that_never_signed_in_is_told_to_sign_in_without_calling_apis(
    make_client: ClientFactory, sent_paths: list[str]
) -> None:
    async with make_client() as client:
        with pytest.raises(NotSignedInError, match="sign in"):
            await client.list_sessions()

    assert sent_paths == []
