"""End-to-end harness: the real auth, orders and billing processes, on PostgreSQL and on SQLite.

The platform is started once per backend (session scope; the machine is small), on free ports
that are never `make run`'s, against databases created for this run and dropped after it:
fresh PostgreSQL databases, or SQLite files in a temporary directory. Every process is started
exactly as the launcher starts it, from `tessera_dev.platform`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tessera.billing.v1 import billing_pb2_grpc
from tessera_dev.accounts import Account, register_and_login
from tessera_dev.harness import (
    RunningPlatform,
    free_port_plan,
    temporary_postgres_databases,
)
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, describe_platform, sqlite_database_urls
from tessera_dev.probes import billing_stub
from tessera_dev.service_clients import generate_service_client_secrets

BACKENDS = ("sqlite", "postgres")


def _test_settings() -> dict[str, dict[str, str]]:
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    # Cheap argon2 parameters: the e2e tests register and log in many users on two cores.
    return {
        "auth": {
            "KEY_ENCRYPTION_KEY": kek,
            "PASSWORD_HASH_MEMORY_KIB": "8192",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_PARALLELISM": "1",
            **BULK_USERS_AUTH_SETTINGS,
        }
    }


@pytest.fixture(scope="session", params=BACKENDS)
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    backend: str = request.param
    workdir = tmp_path_factory.mktemp(f"platform-{backend}")
    if backend == "postgres":
        with temporary_postgres_databases("e2e") as urls:
            yield from _run(urls, workdir)
    else:
        yield from _run(sqlite_database_urls(workdir / "var"), workdir)


def _run(urls: dict[str, str], workdir: Path) -> Iterator[RunningPlatform]:
    plan = describe_platform(
        ports=free_port_plan(),
        database_urls=urls,
        extra_settings=_test_settings(),
        service_clients=generate_service_client_secrets(workdir / "var"),
    )
    with RunningPlatform.start(plan, log_dir=workdir / "logs", gateway=True) as running:
        yield running


@pytest.fixture(scope="session")
def alice(platform: RunningPlatform) -> Account:
    return register_and_login(platform.plan.service("auth").base_url)


@pytest.fixture(scope="session")
def bob(platform: RunningPlatform) -> Account:
    return register_and_login(platform.plan.service("auth").base_url)


@pytest.fixture
def orders(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.plan.service("orders").base_url, timeout=30) as client:
        yield client


@pytest.fixture
def billing(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.plan.service("billing").base_url, timeout=30) as client:
        yield client


@pytest.fixture
def gateway(platform: RunningPlatform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.plan.gateway.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def billing_grpc(platform: RunningPlatform) -> Iterator[billing_pb2_grpc.BillingServiceStub]:
    """A stub of the platform's BillingService on its own loopback channel."""
    with billing_stub(platform) as stub:
        yield stub
