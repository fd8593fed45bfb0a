"""Benchmark: orders → billing gRPC calls with token exchange (cache warm) vs without any auth.

Starts the real auth and billing processes (SQLite, free ports), logs a user in, and replaces
billing with `bench.billing_twin`: billing's own app (its gRPC server with the auth interceptor)
plus, in the same process, a twin gRPC server with no interceptor running the same servicer for
the same user. This process then calls `ListInvoices` (one query for the user's invoices) the
way orders calls billing:

- authenticated: the channel carries `ClientAuthInterceptor(exchanged_token_source(...))` with
  the user's principal current, so every call looks the exchanged token up in the warm
  `TokenExchanger` cache (keyed by a digest of the user's token) and billing verifies it;
- without auth: a plain channel to the twin, no metadata, no verification.

The ratio is the cost of service identity on the call path (issue 4 target >= 0.85). Rounds
alternate so drift hits both. The exchange happens once (the first call); `exchanges sent`
shows the cache worked.

    uv run --frozen python -m bench.grpc_exchange
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import grpc
from tessera import TokenExchanger, current_principal_var, exchanged_token_source
from tessera.billing.v1 import billing_pb2, billing_pb2_grpc
from tessera.grpc import ClientAuthInterceptor
from tessera_dev.accounts import register_and_login
from tessera_dev.grants import service_client_secret
from tessera_dev.harness import RunningPlatform, free_port_plan, free_ports
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, describe_platform, sqlite_database_urls
from tessera_dev.service_clients import generate_service_client_secrets

from bench.billing_twin import EXCHANGED_SCOPES
from bench.callers import fixed_caller

CONCURRENCY = 16
ROUND_SECONDS = 2.5
ROUNDS = 2
WARM_UP_SECONDS = 1.0


async def _rate(stub: billing_pb2_grpc.BillingServiceStub, seconds: float) -> float:
    count = 0
    deadline = time.perf_counter() + seconds
    request = billing_pb2.ListInvoicesRequest(page_size=10)

    async def caller() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await stub.ListInvoices(request, timeout=5)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


async def _measure(
    *, target: str, twin_target: str, token_url: str, secret: str, user_id: str, token: str
) -> dict[str, float]:
    exchanger = TokenExchanger(token_url=token_url, client_id="orders", client_secret=secret)
    caller = fixed_caller(user_id, scopes=EXCHANGED_SCOPES, audience="billing", actor="orders")
    # What orders holds once it has verified the user's own token: the principal with its token.
    current_principal_var.set(replace(caller, client_id="web", actor=None, token=token))
    interceptor = ClientAuthInterceptor(exchanged_token_source(exchanger))
    async with (
        grpc.aio.insecure_channel(target, interceptors=[interceptor]) as with_auth,
        grpc.aio.insecure_channel(twin_target) as without_auth,
    ):
        stubs = {
            "with": billing_pb2_grpc.BillingServiceStub(with_auth),
            "without": billing_pb2_grpc.BillingServiceStub(without_auth),
        }
        for stub in stubs.values():
            await _rate(stub, WARM_UP_SECONDS)
        rates = dict.fromkeys(stubs, 0.0)
        for _ in range(ROUNDS):
            for name, stub in stubs.items():
                rates[name] += await _rate(stub, ROUND_SECONDS) / ROUNDS
    exchanges = exchanger.requests
    await exchanger.aclose()
    return {
        "ListInvoices, exchanged token, cache warm (calls/s)": rates["with"],
        "ListInvoices, same servicer, no auth (calls/s)": rates["without"],
        "ratio exchange+verify to no auth (target >= 0.85)": rates["with"] / rates["without"],
        "exchanges sent to auth during the run": float(exchanges),
    }


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as directory:
        workdir = Path(directory)
        kek = base64.b64encode(secrets.token_bytes(32)).decode()
        plan = describe_platform(
            ports=free_port_plan(),
            database_urls=sqlite_database_urls(workdir),
            log_level="WARNING",
            extra_settings={"auth": {"KEY_ENCRYPTION_KEY": kek, **BULK_USERS_AUTH_SETTINGS}},
            service_clients=generate_service_client_secrets(workdir / "secrets"),
        )
        with RunningPlatform.start(
            plan, log_dir=workdir / "logs", services=("auth", "billing")
        ) as platform:
            auth = plan.service("auth")
            account = register_and_login(auth.base_url)
            billing = plan.service("billing")
            twin_port = free_ports(1)[0]
            platform.stop_process("billing")
            platform.start_process(
                "billing-twin",
                ("python", "-m", "bench.billing_twin"),
                {
                    **billing.settings,
                    "BENCH_FIXED_USER_ID": account.id,
                    "BENCH_TWIN_GRPC_PORT": str(twin_port),
                },
                ready_url=billing.health_url,
            )
            assert billing.grpc_target is not None
            return asyncio.run(
                _measure(
                    target=billing.grpc_target,
                    twin_target=f"{billing.host}:{twin_port}",
                    token_url=f"{auth.base_url}/v1/auth/token",
                    secret=service_client_secret(plan, "orders"),
                    user_id=account.id,
                    token=account.access_token,
                )
            )


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:55} {value:12.2f}")
