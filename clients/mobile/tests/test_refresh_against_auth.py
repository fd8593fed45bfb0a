"""Refresh, crash recovery and logout, driven against the real auth service (in process).

Time moves only through the injected clocks: `advance` moves auth's clock and, by default, the
client's; a test that needs the client to be wrong about expiry gives it a clock of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from tessera_mobile.client import TesseraClient
from tessera_mobile.errors import SessionExpiredError
from tessera_mobile.store import TokenStore

Account = Callable[[], tuple[str, str]]
ClientFactory = Callable[..., TesseraClient]
Advance = Callable[[float], None]
TOKEN = "/v1/auth/token"
ME = "/v1/users/me"
ORDERS = "/v1/orders"


class SimulatedCrash(BaseException):
    """The app process dying: not an Exception, so nothing on the way handles it."""


class StoreThatDiesOnNextSave(TokenStore):
    """A device whose app is killed after a refresh answer arrives and before it is stored."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.dying = False
        self.lost: list[str] = []

    def save(self, refresh_token: str) -> None:
        if self.dying:
            self.lost.append(refresh_token)
            raise SimulatedCrash
        super().save(refresh_token)


class StoreThatRemembers(TokenStore):
    """A device store that also keeps every token it was given, so a test can replay one."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.saved: list[str] = []

    def save(self, refresh_token: str) -> None:
        super().save(refresh_token)
        self.saved.append(refresh_token)


async def signed_in(
    make_client: ClientFactory, new_account: Account, **kwargs: object
) -> TesseraClient:
    email, password = new_account()
    client = make_client(**kwargs)
    await client.register(email, password)
    await client.login(email, password)
    return client


async def test_login_stores_a_refresh_token_in_the_private_file(
    make_client: ClientFactory, device_store: TokenStore, new_account: Account
) -> None:
    client = await signed_in(make_client, new_account)
    await client.aclose()

    token = device_store.load()
    assert token is not None
    assert token.startswith("tsr_")
    assert device_store.path.stat().st_mode & 0o777 == 0o600


async def test_an_access_token_about_to_expire_is_refreshed_before_the_request(
    make_client: ClientFactory,
    device_store: TokenStore,
    new_account: Account,
    advance: Advance,
    access_token_ttl: int,
    sent_paths: list[str],
) -> None:
    async with await signed_in(make_client, new_account) as client:
        first_access, first_refresh = client.auth.access_token, device_store.load()
        advance(access_token_ttl - 5)
        sent_paths.clear()

        me = await client.me()

        assert me["email"]
        assert sent_paths == [TOKEN, ME]
        assert client.auth.access_token != first_access
        assert device_store.load() not in (None, first_refresh)


async def test_a_token_the_server_refuses_is_refreshed_once_and_the_request_retried(
    make_client: ClientFactory,
    new_account: Account,
    advance: Advance,
    access_token_ttl: int,
    sent_paths: list[str],
) -> None:
    phone_clock_stopped = FakeClockStopped()
    async with await signed_in(make_client, new_account, clock=phone_clock_stopped) as client:
        advance(access_token_ttl + 120)  # only the server's clock: the phone thinks it is early
        sent_paths.clear()

        await client.me()

        assert sent_paths == [ME, TOKEN, ME]


class OrdersRefusingTheFirstToken(httpx.AsyncBaseTransport):
    """Auth for real; `POST /v1/orders` answered here, first with orders' 401 for a token it no
    longer accepts, then with an order, remembering the Idempotency-Key of every attempt."""

    def __init__(self, auth: httpx.AsyncBaseTransport) -> None:
        self.auth = auth
        self.keys: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != ORDERS:
            return await self.auth.handle_async_request(request)
        self.keys.append(request.headers.get("Idempotency-Key"))
        if len(self.keys) == 1:
            refusal = 'Bearer error="invalid_token", error_description="token expired"'
            return httpx.Response(401, headers={"WWW-Authenticate": refusal})
        return httpx.Response(201, json={"id": "ord_1", "status": "paid"})


async def test_an_order_retried_after_a_refresh_carries_the_same_idempotency_key(
    make_client: ClientFactory,
    auth_transport: httpx.AsyncBaseTransport,
    new_account: Account,
    sent_paths: list[str],
) -> None:
    orders = OrdersRefusingTheFirstToken(auth_transport)
    client = await signed_in(make_client, new_account, transport=orders)
    sent_paths.clear()

    async with client:
        order = await client.create_order(
            sku="MUG", quantity=1, unit_price_cents=900, currency="EUR"
        )

    assert order["id"] == "ord_1"
    assert sent_paths == [TOKEN]  # the refresh between the two attempts went to the real auth
    assert len(orders.keys) == 2
    assert orders.keys[0] is not None
    assert orders.keys[1] == orders.keys[0]


class ClockThatCountsReads:
    """The phone's clock (reading auth's), counting reads once armed.

    `TesseraAuth` reads the clock to decide a token is expiring, before it takes the refresh
    lock: a request that has read it is committed to refreshing unless the lock serialises it.
    """

    def __init__(self, clock: Callable[[], float], readers: int) -> None:
        self._clock = clock
        self._readers = readers
        self.armed = False
        self.reads = 0
        self.every_reader_read = asyncio.Event()

    def __call__(self) -> float:
        if self.armed:
            self.reads += 1
            if self.reads >= self._readers:
                self.every_reader_read.set()
        return self._clock()


async def test_concurrent_requests_share_one_refresh(
    make_client: ClientFactory,
    new_account: Account,
    clock: Callable[[], float],
    advance: Advance,
    access_token_ttl: int,
    sent_paths: list[str],
    hold_requests: Callable[[Callable[[httpx.Request], Awaitable[None]]], None],
) -> None:
    """The refresh is held until all five requests are past the expiry check, so without the
    client's lock each of them would send a refresh of its own."""
    phone_clock = ClockThatCountsReads(clock, readers=5)
    held: list[bool] = []

    async def hold_refresh(request: httpx.Request) -> None:
        if request.url.path == TOKEN:
            try:
                await asyncio.wait_for(phone_clock.every_reader_read.wait(), timeout=5)
                held.append(True)
            except TimeoutError:
                held.append(False)

    async with await signed_in(make_client, new_account, clock=phone_clock) as client:
        advance(access_token_ttl)
        sent_paths.clear()
        phone_clock.armed = True
        hold_requests(hold_refresh)

        answers = await asyncio.gather(*(client.me() for _ in range(5)))

    assert len({answer["id"] for answer in answers}) == 1
    assert held == [True]  # one refresh, sent while all five requests wanted one
    assert sent_paths.count(TOKEN) == 1
    assert sent_paths.count(ME) == 5


async def test_a_crash_before_storing_a_new_token_recovers_within_the_grace_window(
    make_client: ClientFactory,
    tmp_path: Path,
    new_account: Account,
    advance: Advance,
    access_token_ttl: int,
) -> None:
    dying_store = StoreThatDiesOnNextSave(tmp_path / "device" / "refresh_token")
    client = await signed_in(make_client, new_account, store=dying_store)
    old_token = dying_store.load()
    advance(access_token_ttl)
    dying_store.dying = True
    with pytest.raises(SimulatedCrash):
        await client.me()  # auth rotated the token; the answer died with the app
    await client.aclose()
    assert dying_store.load() == old_token

    advance(2)  # the app comes back inside the grace window, knowing only the old token
    restarted_store = TokenStore(dying_store.path)
    async with make_client(store=restarted_store) as restarted:
        await restarted.me()

    assert restarted_store.load() == dying_store.lost[0]  # the same successor, not a new branch


async def test_a_crash_recovered_after_the_grace_window_signs_the_user_out(
    make_client: ClientFactory,
    tmp_path: Path,
    new_account: Account,
    advance: Advance,
    access_token_ttl: int,
) -> None:
    dying_store = StoreThatDiesOnNextSave(tmp_path / "device" / "refresh_token")
    client = await signed_in(make_client, new_account, store=dying_store)
    advance(access_token_ttl)
    dying_store.dying = True
    with pytest.raises(SimulatedCrash):
        await client.me()
    await client.aclose()

    advance(120)
    restarted_store = TokenStore(dying_store.path)
    async with make_client(store=restarted_store) as restarted:
        with pytest.raises(SessionExpiredError, match="sign in again"):
            await restarted.me()

    assert restarted_store.load() is None


async def test_logout_ends_the_session_on_the_server_and_clears_the_store(
    make_client: ClientFactory,
    device_store: TokenStore,
    new_account: Account,
    token_endpoint: httpx.AsyncClient,
) -> None:
    client = await signed_in(make_client, new_account)
    refresh_token = device_store.load()

    await client.logout()
    await client.aclose()

    assert device_store.load() is None
    replay = await token_endpoint.post(
        TOKEN,
        data={"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": refresh_token},
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


async def test_logout_with_an_expired_access_token_still_ends_the_session(
    make_client: ClientFactory,
    tmp_path: Path,
    new_account: Account,
    advance: Advance,
    access_token_ttl: int,
    token_endpoint: httpx.AsyncClient,
) -> None:
    store = StoreThatRemembers(tmp_path / "device" / "refresh_token")
    client = await signed_in(make_client, new_account, store=store)
    advance(access_token_ttl)

    await client.logout()  # refreshes first, so the body's token may be the one just rotated
    await client.aclose()

    assert store.load() is None
    assert len(store.saved) == 2  # login, then the refresh inside logout
    replay = await token_endpoint.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "client_id": "mobile",
            "refresh_token": store.saved[-1],
        },
    )
    assert replay.json()["error"] == "invalid_grant"


async def test_a_session_ended_on_another_device_signs_this_one_out(
    make_client: ClientFactory,
    device_store: TokenStore,
    tmp_path: Path,
    advance: Advance,
    access_token_ttl: int,
    new_account: Account,
) -> None:
    email, password = new_account()
    async with make_client() as phone, make_client(store=TokenStore(tmp_path / "tablet")) as tablet:
        await phone.register(email, password)
        await phone.login(email, password)
        await tablet.login(email, password)

        await tablet.logout_all()
        advance(access_token_ttl)

        with pytest.raises(SessionExpiredError):
            await phone.me()
    assert device_store.load() is None


async def test_sessions_list_this_device_as_current(
    make_client: ClientFactory, new_account: Account
) -> None:
    async with await signed_in(make_client, new_account) as client:
        sessions = await client.list_sessions()

    assert [(s["client_id"], s["current"]) for s in sessions] == [("mobile", True)]


class FakeClockStopped:
    """A phone clock that never moves."""

    def __call__(self) -> float:
        return 0.0
