"""Service clients: hashed secrets, provisioning from settings (env or mounted file), rotation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from auth_service.adapters.client_repository import ServiceClientStore
from auth_service.adapters.client_settings import ServiceClientConfigError
from auth_service.adapters.storage import open_storage
from auth_service.bootstrap import provision_configured_clients
from auth_service.cli import main
from auth_service.config import Settings
from auth_service.domain.service_clients import (
    authenticate_client,
    hash_client_secret,
    secret_matches,
)
from auth_service.errors import InvalidClientError
from auth_service.use_cases.service_clients import ServiceClients

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[ServiceClientStore]:
    async with open_storage(settings.DATABASE_URL) as storage:
        yield ServiceClientStore(storage.session_factory)


def test_a_secret_hash_is_salted_and_matches_only_its_secret() -> None:
    first, second = hash_client_secret("s3cret"), hash_client_secret("s3cret")

    assert first != second
    assert secret_matches(first, "s3cret")
    assert secret_matches(second, "s3cret")
    assert not secret_matches(first, "s3cret ")
    assert "s3cret" not in first


async def test_clients_from_a_mounted_file_are_provisioned_hashed(
    settings: Settings, store: ServiceClientStore, tmp_path: Path
) -> None:
    secrets_file = tmp_path / "service-clients.json"
    secrets_file.write_text(json.dumps({"orders": "orders-secret", "billing": "billing-secret"}))
    configured = settings.model_copy(update={"SERVICE_CLIENTS_FILE": secrets_file})

    assert await provision_configured_clients(configured, ServiceClients(store, lambda: T0)) == [
        "billing",
        "orders",
    ]

    orders = await authenticate_client(store, "orders", "orders-secret")
    assert orders.permissions.audiences == ("auth",)
    assert "orders-secret" not in orders.secret_hash
    with pytest.raises(InvalidClientError):
        await authenticate_client(store, "orders", "billing-secret")
    with pytest.raises(InvalidClientError):
        await authenticate_client(store, "nobody", "orders-secret")


async def test_reprovisioning_is_a_no_op_and_a_new_configured_secret_replaces_the_old(
    settings: Settings, store: ServiceClientStore, tmp_path: Path
) -> None:
    secrets_file = tmp_path / "service-clients.json"
    configured = settings.model_copy(update={"SERVICE_CLIENTS_FILE": secrets_file})
    secrets_file.write_text(json.dumps({"orders": "first-secret"}))
    await provision_configured_clients(configured, ServiceClients(store, lambda: T0))

    assert await provision_configured_clients(configured, ServiceClients(store, lambda: T0)) == []
    secrets_file.write_text(json.dumps({"orders": "second-secret"}))
    later = T0 + timedelta(days=1)
    assert await provision_configured_clients(configured, ServiceClients(store, lambda: later)) == [
        "orders"
    ]

    rotated = await authenticate_client(store, "orders", "second-secret")
    assert (rotated.created_at, rotated.rotated_at) == (T0, later)
    with pytest.raises(InvalidClientError):
        await authenticate_client(store, "orders", "first-secret")


async def test_rotating_a_secret_stops_the_old_one_at_once(
    settings: Settings, store: ServiceClientStore
) -> None:
    configured = settings.model_copy(update={"SERVICE_CLIENTS": {"orders": "old-secret"}})
    configured = Settings.model_validate(configured.model_dump())
    await provision_configured_clients(configured, ServiceClients(store, lambda: T0))

    _, new_secret = await ServiceClients(store, lambda: T0).rotate("orders")

    assert new_secret.startswith("tsc_")
    await authenticate_client(store, "orders", new_secret)
    with pytest.raises(InvalidClientError):
        await authenticate_client(store, "orders", "old-secret")


async def test_production_refuses_short_configured_secrets(
    settings: Settings, store: ServiceClientStore
) -> None:
    configured = Settings.model_validate(
        {
            **settings.model_dump(),
            "ENVIRONMENT": "production",
            "PASSWORD_HASH_TIME_COST": 2,
            "PASSWORD_HASH_MEMORY_KIB": 19_456,
            "SERVICE_CLIENTS": {"orders": "short"},
        }
    )

    with pytest.raises(ServiceClientConfigError, match="at least 32"):
        await provision_configured_clients(configured, ServiceClients(store, lambda: T0))


def test_cli_creates_rotates_and_lists_clients_printing_each_secret_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.DATABASE_URL)

    assert main(["clients", "create", "reports", "--audience", "orders"]) == 0
    created = capsys.readouterr().out.strip()
    assert main(["clients", "create", "reports"]) == 1
    assert main(["clients", "rotate", "reports"]) == 0
    rotated = capsys.readouterr().out.strip()
    assert main(["clients", "list"]) == 0
    listing = capsys.readouterr().out

    assert created.startswith("tsc_")
    assert rotated.startswith("tsc_")
    assert rotated != created
    assert "reports" in listing
    assert "audiences=orders" in listing
    assert created not in listing
    assert rotated not in listing
