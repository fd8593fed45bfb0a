"""Issue 4 end to end, the part that needs only auth: a token exchanged for billing is no good
anywhere else. (The rest of issue 4's e2e is in pending_test_service_identity.py until orders
and billing use service identity.)"""

from __future__ import annotations

import httpx
from tessera_dev import probes
from tessera_dev.accounts import Account
from tessera_dev.grants import exchange
from tessera_dev.harness import RunningPlatform


def test_a_token_exchanged_for_billing_is_refused_at_orders_as_the_wrong_audience(
    platform: RunningPlatform, orders: httpx.Client, alice: Account
) -> None:
    exchanged = probes.exchanged_for_billing(platform, alice.access_token)

    answer = orders.get("/v1/orders", headers={"Authorization": f"Bearer {exchanged}"})

    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert orders.get("/v1/orders", headers=alice.bearer).status_code == 200


def test_a_wrong_service_client_secret_gets_no_exchange(
    platform: RunningPlatform, alice: Account
) -> None:
    refused = exchange(
        platform.plan.service("auth").base_url,
        "orders",
        "not-the-secret",
        subject_token=alice.access_token,
        audience="billing",
    )

    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
