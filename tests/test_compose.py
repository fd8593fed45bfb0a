"""docker-compose.yml is valid and runs each service the way the local launcher does.

No Docker engine here: Debian's `docker-compose config` validates and resolves the file, and the
parity check reads it with PyYAML against `tessera_dev.platform`, the launcher's description.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tessera_dev.platform import ServiceProcess, describe_platform

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
PLATFORM = describe_platform()


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (python -m tessera_dev.services_check installs it)",
)
def test_docker_compose_config_accepts_the_file() -> None:
    resolved = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE_FILE), "config", "--services"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert resolved.returncode == 0, resolved.stderr
    expected = {"postgres", "redis", "mailpit", "gateway"} | {
        name for s in PLATFORM.services for name in (s.name, f"{s.name}-migrate")
    }
    assert set(resolved.stdout.split()) == expected


@pytest.mark.parametrize("service", PLATFORM.services, ids=lambda s: s.name)
def test_each_service_serves_and_migrates_with_the_launchers_commands(
    service: ServiceProcess,
) -> None:
    services = compose()["services"]

    assert tuple(services[service.name]["command"]) == service.serve_argv
    assert tuple(services[f"{service.name}-migrate"]["command"]) == service.migrate_argv


@pytest.mark.parametrize("service", PLATFORM.services, ids=lambda s: s.name)
def test_each_service_gets_the_launchers_setting_names(service: ServiceProcess) -> None:
    services = compose()["services"]
    expected = set(service.settings) | service.deployment_settings

    assert set(services[service.name]["environment"]) == expected
    assert set(services[f"{service.name}-migrate"]["environment"]) == expected


def test_services_start_only_after_their_migration_and_dependencies_are_healthy() -> None:
    services = compose()["services"]

    for service in PLATFORM.services:
        depends_on = services[service.name]["depends_on"]
        assert depends_on[f"{service.name}-migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert "healthcheck" in services[service.name]
        assert services[f"{service.name}-migrate"]["depends_on"]["postgres"] == {
            "condition": "service_healthy"
        }
    for backing in ("postgres", "redis", "mailpit", "gateway"):
        assert "healthcheck" in services[backing]
    assert services["auth"]["depends_on"]["mailpit"] == {"condition": "service_healthy"}


def test_only_the_gateway_and_the_inbox_on_loopback_are_published() -> None:
    services = compose()["services"]

    published = {name: spec["ports"] for name, spec in services.items() if spec.get("ports")}
    assert published == {"gateway": ["8000:8080"], "mailpit": ["127.0.0.1:8025:8025"]}


def test_auth_mails_through_the_inbox_on_the_ports_make_run_uses() -> None:
    # Mailpit listens on 1025 (SMTP) and 8025 (inbox), as the launcher's catcher does
    environment = compose()["services"]["auth"]["environment"]

    assert environment["SMTP_URL"] == "smtp://mailpit:1025"
    assert PLATFORM.service("auth").settings["SMTP_URL"] == "smtp://127.0.0.1:1025"
    assert PLATFORM.mail.inbox_url == "http://127.0.0.1:8025"


def test_compose_logs_json_lines_and_make_run_only_on_a_terminal_logs_console_lines() -> None:
    # The one deliberate difference of value in LOG_FORMAT: a person watching make run's terminal
    # reads console lines; compose, like every deployment, feeds JSON to its log collector.
    services = compose()["services"]
    on_a_terminal = describe_platform(log_format="console")

    for service in PLATFORM.services:
        assert services[service.name]["environment"]["LOG_FORMAT"] == "json"
        assert service.settings["LOG_FORMAT"] == "json"
        assert on_a_terminal.service(service.name).settings["LOG_FORMAT"] == "console"
    assert on_a_terminal.gateway.settings["LOG_FORMAT"] == "console"
    assert on_a_terminal.mail.settings["LOG_FORMAT"] == "console"


def test_every_service_has_its_own_database_and_role() -> None:
    init_sql = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    services = compose()["services"]

    for service in PLATFORM.services:
        assert f"CREATE ROLE {service.name} LOGIN" in init_sql
        assert f"CREATE DATABASE {service.name} OWNER {service.name}" in init_sql
        url = services[service.name]["environment"]["DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://{service.name}:")
        assert url.endswith(f"/{service.name}")


def test_each_service_is_given_only_its_own_secret_at_the_path_its_setting_names() -> None:
    loaded = compose()
    services = loaded["services"]
    declared = loaded["secrets"]

    auth_file = services["auth"]["environment"]["SERVICE_CLIENTS_FILE"]
    assert services["auth"]["secrets"] == [auth_file.removeprefix("/run/secrets/")]
    for name in ("orders", "billing"):
        environment = services[name]["environment"]
        assert environment["SERVICE_CLIENT_ID"] == name
        secret = environment["SERVICE_CLIENT_SECRET_FILE"].removeprefix("/run/secrets/")
        assert services[name]["secrets"] == services[f"{name}-migrate"]["secrets"] == [secret]
        assert declared[secret]["file"] == f"./deploy/secrets/{secret}"


def test_the_compose_commands_the_docs_give_name_services_of_the_file() -> None:
    # v2 (`docker compose`) and Debian's v1 (`docker-compose`) take the same subcommands
    services = set(compose()["services"])
    docs = [ROOT / "README.md", *ROOT.glob("clients/*/README.md"), *ROOT.glob("docs/**/*.md")]
    text = "\n".join(path.read_text() for path in docs)

    named = re.findall(r"docker(?: |-)compose\s+exec\s+(?:-T\s+)?([a-z][a-z0-9-]*)", text)

    assert "auth" in named
    assert set(named) <= services


def test_the_generated_secrets_are_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/secrets/orders-client-secret"],
        cwd=ROOT,
        check=False,
    )

    assert ignored.returncode == 0


def test_make_secrets_writes_fresh_secrets_into_a_directory_only_its_owner_can_enter(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "secrets"
    tables = []

    for _ in range(2):
        written = subprocess.run(
            [sys.executable, "-m", "tessera_dev.service_clients", str(directory)],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        table = json.loads((directory / "service-clients.json").read_text())
        assert (directory / "orders-client-secret").read_text().strip() == table["orders"]
        assert (directory / "billing-client-secret").read_text().strip() == table["billing"]
        assert not any(secret in written.stdout for secret in table.values())
        tables.append(table)

    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert tables[0]["orders"] != tables[1]["orders"]
