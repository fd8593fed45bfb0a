"""billing consults its in-memory revocation index on every gRPC and HTTP call; /readyz reports
the feed; production refuses to start without the credentials the feed needs.

Events are applied to the app's own index (`app.state.service_identity.index`) as the watcher
applies them from auth's feed; the watcher itself is tested in the shared library and against
real auth end to end in the root tests/.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from billing_service.adapters.migrations import MIGRATIONS
from billing_service.config import Settings
from billing_service.main import create_app
from tessera import KeySource, RevocationEvent
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera_dev.testing import ISSUER

IssueToken = Callable[..., str]
Stub = Any


def _as(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def test_an_exchanged_token_of_a_revoked_session_is_unauthenticated_at_charge(
    billing_on_sqlite: Any, billing_stub: Stub, issue_exchanged_token: IssueToken
) -> None:
    token = issue_exchanged_token("alice")
    charge = billing_pb2.ChargeRequest(
        order_id="o-1", amount_cents=100, currency="EUR", idempotency_key="o-1"
    )
    await billing_stub.Charge(charge, metadata=_as(token))  # accepted, and now cached
    billing_on_sqlite.state.service_identity.index.apply(
        RevocationEvent(
            id="7", kind="session", value="session-of-alice", expires_at=int(time.time()) + 600
        )
    )

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await billing_stub.Charge(charge, metadata=_as(token))

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in (raised.value.details() or "")


def _unused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def test_with_the_feed_unreachable_readyz_fails_but_fail_open_keeps_serving(
    tmp_path: Path, keys: KeySource, issue_token: IssueToken
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/billing.db"
    await MIGRATIONS.upgrade(url)
    settings = Settings(
        DATABASE_URL=url,
        GRPC_PORT=0,
        ISSUER=ISSUER,
        AUTH_URL=_unused_url(),
        SERVICE_CLIENT_SECRET="billing-secret-in-test",
    )
    app = create_app(settings, keys=keys)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as http:
            ready = await http.get("/readyz")
            invoices = await http.get(
                "/v1/invoices", headers={"Authorization": f"Bearer {issue_token('alice')}"}
            )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.state.grpc_port}") as channel:
            listed = await billing_pb2_grpc.BillingServiceStub(channel).ListInvoices(
                billing_pb2.ListInvoicesRequest(), metadata=_as(issue_token("alice"))
            )

    assert ready.status_code == 503
    assert "revocations" in ready.json()["detail"]
    assert invoices.status_code == 200
    assert list(listed.invoices) == []
