"""Command line: `python -m auth_service {migrate,serve,users create-admin,clients ...,keys ...}`.

`migrate` and `serve` are every service's (`tessera.service_cli`); `serve` never migrates, the
launcher (or an operator, or an init container) runs `migrate` first. The rest are auth's own
operator commands, one module each.
"""

from __future__ import annotations

from collections.abc import Sequence

from tessera.service_cli import run_service_cli

from auth_service.adapters.migrations import MIGRATIONS
from auth_service.cli_clients import CLIENTS_COMMAND
from auth_service.cli_keys import KEYS_COMMAND
from auth_service.cli_users import USERS_COMMAND
from auth_service.config import Settings
from auth_service.main import create_app


def main(argv: Sequence[str] | None = None) -> int:
    return run_service_cli(
        argv,
        service="auth",
        load_settings=Settings,
        create_app=create_app,
        migrations=MIGRATIONS,
        commands=(USERS_COMMAND, CLIENTS_COMMAND, KEYS_COMMAND),
    )
