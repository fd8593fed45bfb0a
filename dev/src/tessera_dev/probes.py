"""What e2e tests ask of a running platform: the status of a client's call, polled until it holds.

orders_status(platform.plan.service("orders").base_url, token)      # 200, 401, 403, ...
with billing_stub(platform) as stub:
    list_invoices_code(stub, token)                                  # grpc.StatusCode.OK, ...
assert eventually(lambda: orders_status(url, token) == 401)         # bounded, never a sleep
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
import httpx
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc

from tessera_dev.grants import access_token_of, exchange, service_client_secret
from tessera_dev.harness import RunningPlatform


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether `condition()` holds within `seconds` (polled every 50 ms): a generous bound for
    a shared machine, never a timing assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def metric(base_url: str, sample: str) -> float:
    """The value of one Prometheus sample (`name` or `name{labels}`) at `base_url`/metrics;
    0 when the service does not report it."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def orders_status(orders_base_url: str, token: str) -> int:
    """GET /v1/orders with `token`: the HTTP status."""
    with httpx.Client(base_url=orders_base_url, timeout=10) as client:
        return client.get("/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code


@contextmanager
def billing_stub(platform: RunningPlatform) -> Iterator[billing_pb2_grpc.BillingServiceStub]:
    """A BillingService stub on a fresh channel to the platform's billing gRPC port."""
    target = platform.plan.service("billing").grpc_target
    assert target is not None, "billing serves gRPC"
    with grpc.insecure_channel(target) as channel:
        yield billing_pb2_grpc.BillingServiceStub(channel)


def exchanged_for_billing(platform: RunningPlatform, subject_token: str) -> str:
    """The token orders would get for billing from `subject_token` (RFC 8693 at auth)."""
    return access_token_of(
        exchange(
            platform.plan.service("auth").base_url,
            "orders",
            service_client_secret(platform.plan, "orders"),
            subject_token=subject_token,
            audience="billing",
        )
    )


def grpc_code(method: Callable[..., object], request: object, token: str) -> grpc.StatusCode:
    """A BillingService method called with `token` in the metadata: the gRPC status code."""
    try:
        method(request, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()
        return code
    return grpc.StatusCode.OK


def list_invoices_code(stub: billing_pb2_grpc.BillingServiceStub, token: str) -> grpc.StatusCode:
    """BillingService.ListInvoices with `token` in the metadata: the gRPC status code."""
    return grpc_code(stub.ListInvoices, billing_pb2.ListInvoicesRequest(page_size=1), token)
