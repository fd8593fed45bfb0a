"""The mobile client against the real platform: auth, orders, billing and the dev gateway as
processes (started by `tessera_dev.harness`, exactly as `make run` starts them, on free ports and
SQLite files of their own).

The servers' clocks are real, so expiry is arranged on the client side: its injected clock runs
ahead, which is what a phone resumed after a while looks like. The CLI is run as a real process.

Two-step sign-in codes are computed with pyotp from the enrolled secret. Auth accepts a code of
the step before or after its own, once: only a later step than the last one used counts. So a
test that needs two fresh codes quickly takes `at(t0)` and then the next step's, `at(t0 + 30)`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from tessera_dev.harness import RunningPlatform, free_port_plan
from tessera_dev.inbox import Inbox, mailed_token
from tessera_dev.platform import describe_platform, sqlite_database_urls
from tessera_mobile.auth import TesseraAuth
from tessera_mobile.client import TesseraClient
from tessera_mobile.errors import (
    ApiError,
    MfaCodeInvalidError,
    MfaRequiredError,
    MfaTokenInvalidError,
    StepUpRequiredError,
)
from tessera_mobile.store import TokenStore

FAR_FUTURE = 10_000.0  # seconds the phone's clock jumps: well past any access token's expiry
TOTP_STEP = 30  # seconds: `at(t0 + TOTP_STEP)` is the code of the step after `at(t0)`'s


class PhoneClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SimulatedCrash(BaseException):
    """The app process dying between receiving a refresh answer and storing it."""


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


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    workdir = tmp_path_factory.mktemp("mobile-platform")
    (workdir / "var").mkdir()
    auth_settings = {
        "KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "PASSWORD_HASH_MEMORY_KIB": "8192",
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_PARALLELISM": "1",
        # every test signs up and in from 127.0.0.1: production's per-IP limits would answer 429
        # part-way through the module (the per-account limits and verification stay as in prod)
        "REGISTER_RATE_LIMIT_PER_IP": "1000/minute",
        "LOGIN_RATE_LIMIT_PER_IP": "1000/minute",
        "EMAIL_TOKEN_RATE_LIMIT_PER_IP": "1000/minute",
    }
    refunds = {"REFUND_MAX_AGE_SECONDS": str(REFUND_MAX_AGE_SECONDS)}  # a step-up, quickly
    plan = describe_platform(
        ports=free_port_plan(),
        database_urls=sqlite_database_urls(workdir / "var"),
        extra_settings={"auth": auth_settings, "orders": refunds, "billing": refunds},
    )
    with RunningPlatform.start(plan, log_dir=workdir / "logs", gateway=True) as running:
        yield running


REFUND_MAX_AGE_SECONDS = 3
"""A refund needs a sign-in this recent here (RFC 9470), so a test can outwait it."""


@pytest.fixture
def base_url(platform: RunningPlatform) -> str:
    return platform.plan.gateway.base_url


@pytest.fixture
def inbox(platform: RunningPlatform) -> Inbox:
    """The platform's inbox: like `make run`, it requires a verified address to sign in."""
    return Inbox(platform.plan.mail.inbox_url)


def mailed_verification_token(inbox: Inbox, email: str) -> str:
    return mailed_token(inbox.wait_for(email, subject="Confirm your email address"))


def account() -> tuple[str, str]:
    return f"phone-{secrets.token_hex(4)}@example.org", f"pw-{secrets.token_urlsafe(12)}"


def cli(
    base_url: str, store: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tessera_mobile",
            "--base-url",
            base_url,
            "--store",
            str(store),
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def ids_in(table: str) -> list[str]:
    """The ids a list printed, under its header row (the id is every list's first column)."""
    header, *rows = table.splitlines()
    assert header.startswith("ID "), table
    return [row.split()[0] for row in rows]


def first_id(table: str) -> str:
    return ids_in(table)[0]


def signed_up_and_in(base_url: str, store: Path, inbox: Inbox, email: str, password: str) -> None:
    """Through the CLI, as a user would: register, open the mailed link (verify), sign in."""
    steps: list[Callable[[], subprocess.CompletedProcess[str]]] = [
        lambda: cli(
            base_url, store, "register", "--email", email, "--password-stdin", stdin=password
        ),
        lambda: cli(base_url, store, "verify", mailed_verification_token(inbox, email)),
        lambda: cli(base_url, store, "login", "--email", email, "--password-stdin", stdin=password),
    ]
    for step in steps:
        done = step()  # each step checked before the next (no mail comes after a refusal)
        assert done.returncode == 0, done.stderr


def test_the_cli_signs_in_orders_lists_and_signs_out(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    store = tmp_path / "phone" / "refresh_token"
    email, password = account()

    registered = cli(
        base_url, store, "register", "--email", email, "--password-stdin", stdin=password
    )
    unverified = cli(base_url, store, "login", "--email", email, "--password-stdin", stdin=password)
    verified = cli(base_url, store, "verify", mailed_verification_token(inbox, email))
    login = cli(base_url, store, "login", "--email", email, "--password-stdin", stdin=password)
    item = ["--sku", "MUG", "--quantity", "2", "--price-cents", "1250", "--currency", "EUR"]
    created = cli(base_url, store, "order", "create", *item)
    orders = cli(base_url, store, "orders")
    invoices = cli(base_url, store, "invoices")
    sessions = cli(base_url, store, "sessions")
    mode = store.stat().st_mode & 0o777
    logout = cli(base_url, store, "logout")
    after = cli(base_url, store, "orders")

    assert "open the link mailed to that address" in registered.stdout
    assert unverified.returncode == 1
    assert "not verified yet" in unverified.stderr
    for step in (registered, verified, login, created, orders, invoices, sessions, logout):
        assert step.returncode == 0, step.stderr
    assert mode == 0o600
    assert created.stdout.splitlines()[0].split() == ["ID", "STATUS", "TOTAL", "INVOICE"]
    assert "paid" in created.stdout
    assert "25.00 EUR" in created.stdout
    order_id = first_id(created.stdout)
    assert ids_in(orders.stdout) == [order_id]
    assert order_id in invoices.stdout
    assert "25.00 EUR" in invoices.stdout
    [this_device] = [line for line in sessions.stdout.splitlines() if line.endswith("*")]
    assert " mobile " in this_device
    assert not store.exists()
    assert after.returncode == 3
    assert "sign in" in after.stderr


def test_an_order_retried_with_its_idempotency_key_is_placed_once(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    store = tmp_path / "phone" / "refresh_token"
    email, password = account()
    signed_up_and_in(base_url, store, inbox, email, password)
    key = ["--idempotency-key", f"order-{secrets.token_hex(8)}"]
    item = ["--sku", "MUG", "--quantity", "2", "--price-cents", "1250", "--currency", "EUR"]
    other_item = ["--sku", "MUG", "--quantity", "3", "--price-cents", "1250", "--currency", "EUR"]

    first = cli(base_url, store, "order", "create", *item, *key)
    retry = cli(base_url, store, "order", "create", *item, *key)
    other = cli(base_url, store, "order", "create", *other_item, *key)
    orders = cli(base_url, store, "orders")

    assert first.returncode == 0, first.stderr
    assert retry.returncode == 0, retry.stderr
    assert retry.stdout == first.stdout  # orders' first answer, replayed
    assert other.returncode == 1
    assert other.stderr.startswith("tessera-mobile: 422 Idempotency key reused")
    assert ids_in(orders.stdout) == [first_id(first.stdout)]


def test_the_cli_resets_a_forgotten_password_and_the_old_session_ends(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    phone, tablet = tmp_path / "phone" / "refresh_token", tmp_path / "tablet" / "refresh_token"
    email, password = account()
    new_password = password + "-new"
    cli(base_url, phone, "register", "--email", email, "--password-stdin", stdin=password)
    cli(base_url, phone, "verify", mailed_verification_token(inbox, email))
    cli(base_url, tablet, "login", "--email", email, "--password-stdin", stdin=password)

    asked = cli(base_url, phone, "reset-password", email)
    token = mailed_token(inbox.wait_for(email, subject="Reset your password"))
    confirmed = cli(base_url, phone, "reset-confirm", token, "--password-stdin", stdin=new_password)
    reused = cli(base_url, phone, "reset-confirm", token, "--password-stdin", stdin=new_password)
    tablet_after = cli(base_url, tablet, "orders")
    old = cli(base_url, phone, "login", "--email", email, "--password-stdin", stdin=password)
    new = cli(base_url, phone, "login", "--email", email, "--password-stdin", stdin=new_password)

    assert asked.returncode == 0
    assert "reset link is on its way" in asked.stdout
    assert confirmed.returncode == 0, confirmed.stderr
    assert reused.returncode == 1
    assert "the link is invalid or has expired" in reused.stderr
    assert tablet_after.returncode == 3  # its session ended with the reset
    assert old.returncode == 1
    assert new.returncode == 0, new.stderr


def test_the_cli_confirms_the_password_when_a_refund_needs_a_recent_sign_in(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    store = tmp_path / "phone" / "refresh_token"
    email, password = account()
    signed_up_and_in(base_url, store, inbox, email, password)
    item = ["--sku", "MUG", "--quantity", "1", "--price-cents", "900", "--currency", "EUR"]
    order_id = first_id(cli(base_url, store, "order", "create", *item).stdout)
    time.sleep(REFUND_MAX_AGE_SECONDS + 1)  # the sign-in is now older than the refund window

    wrong = cli(base_url, store, "order", "cancel", order_id, "--password-stdin", stdin="nope")
    cancelled = cli(
        base_url, store, "order", "cancel", order_id, "--password-stdin", stdin=password
    )

    assert wrong.returncode == 1
    assert "a refund needs a sign-in" in wrong.stderr
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout
    invoices = cli(base_url, store, "invoices")
    assert "refunded" in invoices.stdout


async def test_a_refund_that_needs_a_recent_sign_in_raises_step_up_required(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    email, password = account()
    async with TesseraClient(base_url=base_url, store=TokenStore(tmp_path / "rt")) as client:
        await client.register(email, password)
        await client.verify_email(mailed_verification_token(inbox, email))
        await client.login(email, password)
        order = await client.create_order(
            sku="MUG", quantity=1, unit_price_cents=900, currency="EUR"
        )
        await asyncio.sleep(REFUND_MAX_AGE_SECONDS + 1)

        with pytest.raises(StepUpRequiredError) as needed:
            await client.cancel_order(order["id"])
        await client.step_up(password)
        cancelled = await client.cancel_order(order["id"])

    assert (needed.value.status, needed.value.max_age) == (401, REFUND_MAX_AGE_SECONDS)
    assert cancelled["status"] == "cancelled"


async def test_only_a_call_with_the_same_idempotency_key_is_the_same_order(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    email, password = account()
    item: dict[str, Any] = {"sku": "MUG", "quantity": 1, "unit_price_cents": 900, "currency": "EUR"}
    async with TesseraClient(base_url=base_url, store=TokenStore(tmp_path / "rt")) as client:
        await client.register(email, password)
        await client.verify_email(mailed_verification_token(inbox, email))
        await client.login(email, password)

        keyed = await client.create_order(**item, idempotency_key="cart-42")
        keyed_again = await client.create_order(**item, idempotency_key="cart-42")
        unkeyed = await client.create_order(**item)
        unkeyed_again = await client.create_order(**item)
        orders = await client.list_orders()

    assert keyed_again == keyed
    assert unkeyed_again["id"] != unkeyed["id"]  # a new call without a key is a new order
    assert sorted(o["id"] for o in orders) == sorted(
        [keyed["id"], unkeyed["id"], unkeyed_again["id"]]
    )


async def test_orders_keep_working_across_an_access_token_expiry(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    store, clock = TokenStore(tmp_path / "refresh_token"), PhoneClock()
    email, password = account()
    async with TesseraClient(base_url=base_url, store=store, clock=clock) as client:
        await client.register(email, password)
        await client.verify_email(mailed_verification_token(inbox, email))
        await client.login(email, password)
        created = await client.create_order(
            sku="MUG", quantity=1, unit_price_cents=900, currency="EUR"
        )
        first_refresh_token = store.load()

        clock.now += FAR_FUTURE
        orders = await client.list_orders()

    assert [order["id"] for order in orders] == [created["id"]]
    assert store.load() not in (None, first_refresh_token)


async def test_a_crash_between_receiving_and_storing_a_new_token_recovers(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    path, clock = tmp_path / "refresh_token", PhoneClock()
    dying_store = StoreThatDiesOnNextSave(path)
    email, password = account()
    async with TesseraClient(base_url=base_url, store=dying_store, clock=clock) as client:
        await client.register(email, password)
        await client.verify_email(mailed_verification_token(inbox, email))
        await client.login(email, password)
        old_token = dying_store.load()
        clock.now += FAR_FUTURE
        dying_store.dying = True
        with pytest.raises(SimulatedCrash):
            await client.list_orders()
    assert dying_store.load() == old_token

    # the app restarts at once (inside the server's grace window) with only the old token
    async with TesseraClient(base_url=base_url, store=TokenStore(path)) as restarted:
        assert await restarted.list_orders() == []
    assert dying_store.lost
    assert TokenStore(path).load() == dying_store.lost[0]  # the successor auth had already sent


class ClockThatCountsReaders:
    """The phone's clock, noting which threads read it once armed.

    `TesseraAuth` reads the clock to decide a token is expiring, before it takes the refresh
    lock; a thread that has read it is committed to refreshing unless the lock serialises it.
    """

    def __init__(self, threads: int) -> None:
        self.now = 0.0
        self.armed = False
        self._threads = threads
        self._readers: set[int] = set()
        self._all_read = threading.Condition()

    def __call__(self) -> float:
        if self.armed:
            with self._all_read:
                self._readers.add(threading.get_ident())
                self._all_read.notify_all()
        return self.now

    def wait_for_every_thread(self, timeout: float) -> bool:
        with self._all_read:
            return self._all_read.wait_for(lambda: len(self._readers) >= self._threads, timeout)


def test_threads_of_a_synchronous_app_share_one_refresh(
    platform: RunningPlatform, base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    """Four threads find the token expired at once; the refresh is held until all four are past
    the expiry check, so without the client's lock each would send its own refresh. Auth's
    access log (tagged by request id) counts what reached the server."""
    email, password = account()
    workers, tag = 4, f"mobile-threads-{secrets.token_hex(4)}"
    clock = ClockThatCountsReaders(workers)
    auth = TesseraAuth(
        token_url=f"{base_url}/v1/auth/token", store=TokenStore(tmp_path / "rt"), clock=clock
    )
    refresh_ids: list[str] = []
    overlap_held: list[bool] = []

    def tag_and_hold(request: httpx.Request) -> None:
        if request.url.path == "/v1/auth/token":
            refresh_ids.append(f"{tag}-{len(refresh_ids)}")
            request.headers["X-Request-ID"] = refresh_ids[-1]
            overlap_held.append(clock.wait_for_every_thread(timeout=10))

    with httpx.Client(
        base_url=base_url, timeout=30, event_hooks={"request": [tag_and_hold]}
    ) as http:
        http.post("/v1/users", json={"email": email, "password": password}).raise_for_status()
        token = mailed_verification_token(inbox, email)
        http.post("/v1/users/verify-email", json={"token": token}).raise_for_status()
        login = http.post(
            "/v1/auth/login", json={"email": email, "password": password, "client_id": "mobile"}
        )
        auth.accept_token_response(login.json())
        clock.now += FAR_FUTURE
        clock.armed = True
        start, outcomes = threading.Barrier(workers), list[int | str]()

        def list_orders() -> None:
            start.wait(timeout=10)
            try:
                outcomes.append(http.get("/v1/orders", auth=auth).status_code)
            except Exception as exc:  # reported by the assertion below, not lost in a thread
                outcomes.append(repr(exc))

        threads = [threading.Thread(target=list_orders) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert outcomes == [200] * workers
    assert overlap_held == [True]  # one refresh, sent while every thread wanted one
    for request_id in refresh_ids:  # auth logs a request just after answering it
        platform.wait_for_log("auth", request_id)
    received = [line for line in platform.log("auth").splitlines() if tag in line]
    assert len(received) == 1, received
    assert "POST /v1/auth/token 200" in received[0]


# -- two-step sign-in (TOTP) ----------------------------------------------------------------------


async def test_a_two_step_sign_in_takes_a_code_or_a_recovery_code_once(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    email, password = account()
    store = TokenStore(tmp_path / "rt")
    async with TesseraClient(base_url=base_url, store=store) as client:
        await client.register(email, password)
        await client.verify_email(mailed_verification_token(inbox, email))
        await client.login(email, password)
        enrollment = await client.enable_totp()
        totp, t0 = pyotp.TOTP(enrollment.secret), time.time()
        recovery_codes = await client.confirm_totp(totp.at(t0))
        enrolled = await client.mfa_status()
        await client.logout()

        with pytest.raises(MfaRequiredError) as first:
            await client.login(email, password)
        stored_before_the_code = store.load()
        await client.login_mfa(first.value.mfa_token, code=totp.at(t0 + TOTP_STEP))
        assert await client.list_orders() == []
        with pytest.raises(ApiError) as password_step_up:  # with a second factor, only a code
            await client.step_up(password)
        await client.logout()

        with pytest.raises(MfaRequiredError) as second:
            await client.login(email, password)
        with pytest.raises(MfaCodeInvalidError):  # that step's code was used
            await client.login_mfa(second.value.mfa_token, code=totp.at(t0 + TOTP_STEP))
        await client.login_mfa(second.value.mfa_token, recovery_code=recovery_codes[0])
        await client.logout()

        with pytest.raises(MfaRequiredError) as third:
            await client.login(email, password)
        with pytest.raises(MfaCodeInvalidError):  # a recovery code works once
            await client.login_mfa(third.value.mfa_token, recovery_code=recovery_codes[0])
        with pytest.raises(MfaTokenInvalidError):  # a completed sign-in's token is spent
            await client.login_mfa(second.value.mfa_token, recovery_code=recovery_codes[1])
        await client.login_mfa(third.value.mfa_token, recovery_code=recovery_codes[1])
        after = await client.mfa_status()

    assert enrolled == {"totp": "on", "recovery_codes_left": len(recovery_codes)}
    assert len(set(recovery_codes)) == 10
    assert set(first.value.methods) >= {"totp", "recovery_code"}
    assert first.value.mfa_token not in str(first.value)
    assert stored_before_the_code is None  # the password alone is no session
    assert password_step_up.value.status == 403
    assert after == {"totp": "on", "recovery_codes_left": 8}


def test_the_cli_enrols_an_authenticator_and_a_refund_is_confirmed_with_a_code(
    base_url: str, tmp_path: Path, inbox: Inbox
) -> None:
    store = tmp_path / "phone" / "refresh_token"
    email, password = account()
    signed_up_and_in(base_url, store, inbox, email, password)
    enabled = cli(base_url, store, "mfa", "enable")
    secret = re.search(r"^secret: (\S+)$", enabled.stdout, re.MULTILINE)
    assert secret, enabled.stdout + enabled.stderr
    totp, t0 = pyotp.TOTP(secret[1]), time.time()
    confirmed = cli(base_url, store, "mfa", "confirm", totp.at(t0))
    recovery_codes = re.findall(r"^  (\S+)$", confirmed.stdout, re.MULTILINE)
    status = cli(base_url, store, "mfa", "status")
    cli(base_url, store, "logout")

    password_only = cli(
        base_url, store, "login", "--email", email, "--password-stdin", stdin=password
    )
    login = cli(
        base_url,
        store,
        *("login", "--email", email, "--password-stdin", "--recovery-code"),
        stdin=f"{password}\n{recovery_codes[0]}\n",
    )
    signed_in_at = time.monotonic()
    item = ["--sku", "MUG", "--quantity", "1", "--price-cents", "900", "--currency", "EUR"]
    order_id = first_id(cli(base_url, store, "order", "create", *item).stdout)
    time.sleep(max(0.0, signed_in_at + REFUND_MAX_AGE_SECONDS + 1 - time.monotonic()))
    cancelled = cli(base_url, store, "order", "cancel", order_id, "--code", totp.at(t0 + TOTP_STEP))
    # the code just confirmed counts as a recent sign-in with two factors: no challenge
    renewed = cli(base_url, store, "mfa", "recovery-codes")
    disabled = cli(base_url, store, "mfa", "disable")
    off = cli(base_url, store, "mfa", "status")

    for step in (enabled, confirmed, status, login, cancelled, renewed, disabled, off):
        assert step.returncode == 0, step.stderr
    assert enabled.stdout.count(secret[1]) == 2  # the secret and the URI holding it
    assert "otpauth://totp/" in enabled.stdout
    assert len(recovery_codes) == 10
    assert "on; recovery codes left: 10" in status.stdout
    assert password_only.returncode == 1  # stdin held no code
    assert "a code is required" in password_only.stderr
    assert "a refund needs a sign-in" in cancelled.stderr
    assert "authenticator app" in cancelled.stderr
    assert "cancelled" in cancelled.stdout
    assert len(re.findall(r"^  (\S+)$", renewed.stdout, re.MULTILINE)) == 10
    assert "off; recovery codes left: 0" in off.stdout
