"""Benchmark: the same orders handler with and without authentication, in one real process.

Starts the real auth and orders processes (SQLite in a temp dir, free ports), logs a user in,
then replaces orders with `bench.orders_twin`: orders' own app (its `create_app`, settings and
uvicorn options) plus a twin route that calls the same `list_orders` route function for a fixed
user id without the bearer-token dependency. A bounded keep-alive load over loopback compares:

- `GET /v1/orders` with the user's token: bearer parsing, token verification (the verified-token
  cache after the first request, as in production), the `orders:read` scope, then the handler;
- `GET /bench/v1/orders-without-auth`: the same handler and query for the same user, no auth.

The ratio is what authentication costs a real request (target >= 0.85). Rounds alternate between
the two routes so drift on a shared machine hits both. The load generator is a minimal HTTP/1.1
client on raw asyncio streams, so the client spends as little of the machine's CPU as possible.

    uv run --frozen python -m bench.http_auth
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import tempfile
import time
from pathlib import Path

from tessera_dev.accounts import register_and_login
from tessera_dev.harness import RunningPlatform, free_port_plan
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, describe_platform, sqlite_database_urls
from tessera_dev.service_clients import generate_service_client_secrets

from bench.orders_twin import TWIN_PATH

CONNECTIONS = 16
ROUND_SECONDS = 2.5
ROUNDS = 2
WARM_UP_SECONDS = 1.0


async def _connection_loop(
    host: str, port: int, request: bytes, deadline: float, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"{request.splitlines()[0]!r} answered {status}")
            counts[0] += 1
    finally:
        writer.close()
        await writer.wait_closed()


async def _rate(host: str, port: int, path: str, token: str | None, seconds: float) -> float:
    """Requests per second over `CONNECTIONS` keep-alive connections for `seconds`."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode()
    counts = [0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection_loop(host, port, request, deadline, counts) for _ in range(CONNECTIONS))
    )
    return counts[0] / (time.perf_counter() - started)


async def _measure(host: str, port: int, token: str) -> dict[str, float]:
    endpoints = {"with": ("/v1/orders", token), "without": (TWIN_PATH, None)}
    for path, bearer in endpoints.values():
        await _rate(host, port, path, bearer, WARM_UP_SECONDS)
    rates: dict[str, float] = dict.fromkeys(endpoints, 0.0)
    for _ in range(ROUNDS):
        for name, (path, bearer) in endpoints.items():
            rates[name] += await _rate(host, port, path, bearer, ROUND_SECONDS) / ROUNDS
    return {
        "GET /v1/orders, verified token (req/s)": rates["with"],
        "same handler and query, no auth dependency (req/s)": rates["without"],
        "ratio with auth to without (target >= 0.85)": rates["with"] / rates["without"],
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
            plan, log_dir=workdir / "logs", services=("auth", "orders")
        ) as platform:
            account = register_and_login(platform.plan.service("auth").base_url)
            orders = plan.service("orders")
            platform.stop_process("orders")
            platform.start_process(
                "orders-twin",
                ("python", "-m", "bench.orders_twin"),
                {**orders.settings, "BENCH_FIXED_USER_ID": account.id},
                ready_url=orders.health_url,
            )
            return asyncio.run(_measure(orders.host, orders.http_port, account.access_token))


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:60} {value:12.2f}")
