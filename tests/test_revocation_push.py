"""Issue 6 end to end: a revocation reaches orders (HTTP) and billing (gRPC) with no lookup.

Real processes on PostgreSQL and SQLite. After a logout or a refresh-token reuse, the tokens of
that session are rejected by both resource services within a generous bound (the delay itself
is what `make bench` measures). Restarting auth, or orders, loses nothing: a watcher resumes
from its cursor, or re-lists at start-up, and events written meanwhile still take effect.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import httpx
import pytest
from tessera.billing.v1 import billing_pb2_grpc
from tessera_dev import probes
from tessera_dev.accounts import Account, register_and_login
from tessera_dev.harness import RunningPlatform

BOUND_SECONDS = 10.0


@pytest.fixture
def mobile(platform: RunningPlatform) -> Account:
    return register_and_login(platform.plan.service("auth").base_url, client_id="mobile")


def eventually(condition: Callable[[], bool]) -> bool:
    return probes.eventually(condition, BOUND_SECONDS)


def orders_status(platform: RunningPlatform, token: str) -> int:
    return probes.orders_status(platform.plan.service("orders").base_url, token)


billing_code = probes.list_invoices_code


exchanged_for_billing = probes.exchanged_for_billing


def logout(platform: RunningPlatform, account: Account) -> None:
    with httpx.Client(base_url=platform.plan.service("auth").base_url, timeout=10) as client:
        answer = client.post(
            "/v1/auth/logout",
            headers=account.bearer,
            json={"refresh_token": account.refresh_token},
        )
    assert answer.status_code == 204, answer.text


def assert_revoked_everywhere(
    platform: RunningPlatform,
    stub: billing_pb2_grpc.BillingServiceStub,
    access_token: str,
    exchanged: str,
) -> None:
    assert eventually(lambda: orders_status(platform, access_token) == 401)
    assert eventually(lambda: billing_code(stub, exchanged) == grpc.StatusCode.UNAUTHENTICATED)
    assert billing_code(stub, access_token) == grpc.StatusCode.UNAUTHENTICATED


def test_after_logout_the_old_access_token_is_rejected_by_orders_and_billing(
    platform: RunningPlatform, billing_grpc: billing_pb2_grpc.BillingServiceStub, mobile: Account
) -> None:
    exchanged = exchanged_for_billing(platform, mobile.access_token)
    assert orders_status(platform, mobile.access_token) == 200
    assert billing_code(billing_grpc, exchanged) == grpc.StatusCode.OK

    logout(platform, mobile)

    assert_revoked_everywhere(platform, billing_grpc, mobile.access_token, exchanged)


def test_reusing_a_rotated_refresh_token_kills_the_familys_access_tokens_at_both_services(
    platform: RunningPlatform, billing_grpc: billing_pb2_grpc.BillingServiceStub, mobile: Account
) -> None:
    auth_url = platform.plan.service("auth").base_url
    form = {"grant_type": "refresh_token", "client_id": "mobile"}
    with httpx.Client(base_url=auth_url, timeout=10) as client:
        first = client.post("/v1/auth/token", data={**form, "refresh_token": mobile.refresh_token})
        assert first.status_code == 200, first.text
        second = client.post(
            "/v1/auth/token", data={**form, "refresh_token": first.json()["refresh_token"]}
        )
        assert second.status_code == 200, second.text
        fresh = second.json()["access_token"]
        exchanged = exchanged_for_billing(platform, fresh)
        assert orders_status(platform, fresh) == 200

        # Two generations old: not a lost response (the grace window covers only the immediate
        # parent of the live token), so it is theft and the whole family dies.
        reused = client.post("/v1/auth/token", data={**form, "refresh_token": mobile.refresh_token})

    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert_revoked_everywhere(platform, billing_grpc, fresh, exchanged)
    assert orders_status(platform, mobile.access_token) == 401


def test_a_logout_right_after_auth_restarts_still_reaches_both_services(
    platform: RunningPlatform, billing_grpc: billing_pb2_grpc.BillingServiceStub, mobile: Account
) -> None:
    exchanged = exchanged_for_billing(platform, mobile.access_token)
    platform.kill_process("auth")
    auth = platform.plan.service("auth")
    platform.start_process("auth", auth.serve_argv, auth.settings, ready_url=auth.health_url)

    logout(platform, mobile)  # the watchers may still be backing off: it waits for them

    assert_revoked_everywhere(platform, billing_grpc, mobile.access_token, exchanged)


def test_a_logout_while_orders_is_down_takes_effect_when_orders_is_back(
    platform: RunningPlatform, billing_grpc: billing_pb2_grpc.BillingServiceStub, mobile: Account
) -> None:
    assert orders_status(platform, mobile.access_token) == 200
    platform.stop_process("orders")
    try:
        logout(platform, mobile)
    finally:
        orders = platform.plan.service("orders")
        platform.start_process(
            "orders", orders.serve_argv, orders.settings, ready_url=orders.health_url
        )

    assert eventually(lambda: orders_status(platform, mobile.access_token) == 401)
