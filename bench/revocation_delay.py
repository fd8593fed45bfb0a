"""Benchmark: how long a logout takes to reach orders, measured against real processes.

Starts the real auth and orders processes (SQLite in a temp dir, free ports; cheap argon2 so
logins are quick). Each trial logs a fresh mobile session in, makes one verified request at
orders (so the token sits in orders' verified-token cache, the hardest case), logs out with the
bearer token, and from the moment the logout response arrives polls `GET /v1/orders` with the
old token until it answers 401. The delay is logout-response to first rejection: the event's
commit, the watch long-poll's wake-up, the index update, seen from outside. Issue 6: p99 <= 1 s.

    uv run --frozen python -m bench.revocation_delay
"""

from __future__ import annotations

import base64
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from tessera_dev.accounts import register_and_login
from tessera_dev.harness import RunningPlatform, free_port_plan
from tessera_dev.platform import (
    BULK_USERS_AUTH_SETTINGS,
    describe_platform,
    sqlite_database_urls,
)
from tessera_dev.service_clients import generate_service_client_secrets

TRIALS = 60
GIVE_UP_SECONDS = 10.0


def _trial(auth: httpx.Client, orders: httpx.Client, auth_url: str) -> float:
    account = register_and_login(auth_url, client_id="mobile")
    if orders.get("/v1/orders", headers=account.bearer).status_code != 200:
        raise RuntimeError("a fresh token was refused before logout")
    answer = auth.post(
        "/v1/auth/logout", headers=account.bearer, json={"refresh_token": account.refresh_token}
    )
    logged_out = time.perf_counter()
    if answer.status_code != 204:
        raise RuntimeError(f"logout answered {answer.status_code}")
    while time.perf_counter() - logged_out < GIVE_UP_SECONDS:
        if orders.get("/v1/orders", headers=account.bearer).status_code == 401:
            return time.perf_counter() - logged_out
    raise RuntimeError(f"the token still worked {GIVE_UP_SECONDS:.0f} s after logout")


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as directory:
        workdir = Path(directory)
        plan = describe_platform(
            ports=free_port_plan(),
            database_urls=sqlite_database_urls(workdir),
            log_level="WARNING",
            extra_settings={
                "auth": {
                    "KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
                    "PASSWORD_HASH_MEMORY_KIB": "8192",
                    "PASSWORD_HASH_TIME_COST": "1",
                    "PASSWORD_HASH_PARALLELISM": "1",
                    **BULK_USERS_AUTH_SETTINGS,
                }
            },
            service_clients=generate_service_client_secrets(workdir / "secrets"),
        )
        with (
            RunningPlatform.start(plan, log_dir=workdir / "logs", services=("auth", "orders")),
            httpx.Client(base_url=plan.service("auth").base_url, timeout=10) as auth,
            httpx.Client(base_url=plan.service("orders").base_url, timeout=10) as orders,
        ):
            auth_url = plan.service("auth").base_url
            delays = sorted(_trial(auth, orders, auth_url) for _ in range(TRIALS))
    cut = statistics.quantiles(delays, n=100, method="inclusive")
    return {
        "trials (logout -> first 401 at orders)": float(len(delays)),
        "revocation delay p50 (ms)": cut[49] * 1000,
        "revocation delay p99 (ms, target <= 1000)": cut[98] * 1000,
        "revocation delay max (ms)": delays[-1] * 1000,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:50} {value:10.2f}")
