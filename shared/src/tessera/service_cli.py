"""The command line every service has: `python -m <service> migrate | serve | <its own>`.

    def main(argv: Sequence[str] | None = None) -> int:
        return run_service_cli(
            argv, service="orders", load_settings=Settings, create_app=create_app,
            migrations=MIGRATIONS,
        )

`migrate` applies the service's Alembic migrations to its `DATABASE_URL`; `serve` runs uvicorn
(uvloop, httptools, logs in `LOG_FORMAT`; `X-Forwarded-For` is the app's to believe, and only
from `TRUSTED_PROXIES`: `tessera.http.forwarded`) and never migrates (the launcher, compose or
an init container does, first). Invalid settings are one line on stderr and exit 2. A service
adds commands of its own (auth: `users`, `clients`, `keys`) as `ServiceCommand`s.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

from pydantic import ValidationError

from tessera.logging import configure_logging
from tessera.settings import ServiceSettings
from tessera.storage import Migrations

S = TypeVar("S", bound=ServiceSettings)
Subcommands = argparse._SubParsersAction

GRACEFUL_SHUTDOWN_SECONDS = 10
"""How long uvicorn lets open requests finish on SIGTERM before closing them."""


@dataclass(frozen=True)
class ServiceCommand(Generic[S]):
    """One more top-level command: `add` declares its parser, `run` does it (the exit code)."""

    name: str
    add: Callable[[Subcommands[argparse.ArgumentParser]], None]
    run: Callable[[S, argparse.Namespace], int]


def serve(app: Any, settings: ServiceSettings) -> NoReturn:
    """Serve `app` until SIGTERM/SIGINT, then end the process (`tessera.http.server`)."""
    from tessera.http.server import serve_until_stopped  # only `serve` needs uvicorn

    serve_until_stopped(app, settings, graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS)


def settings_problems(error: ValidationError) -> str:
    """Every problem of invalid settings on one line, never a value (it may be a secret)."""
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'settings'}: {problem['msg']}"
        for problem in error.errors()
    )


def run_service_cli(
    argv: Sequence[str] | None,
    *,
    service: str,
    load_settings: Callable[[], S],
    create_app: Callable[[S], Any],
    migrations: Migrations,
    commands: Sequence[ServiceCommand[S]] = (),
) -> int:
    """Parse `argv`, load the settings once, run the command; the process's exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {service}_service")
    subcommands = parser.add_subparsers(dest="command", required=True)
    subcommands.add_parser("migrate", help="apply the Alembic migrations to DATABASE_URL")
    subcommands.add_parser("serve", help="serve on HTTP_HOST:HTTP_PORT; never migrates")
    for command in commands:
        command.add(subcommands)
    arguments = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as error:
        print(
            f"error: {service}'s settings are invalid: {settings_problems(error)}", file=sys.stderr
        )
        return 2
    if arguments.command in ("migrate", "serve"):
        configure_logging(service, settings.LOG_LEVEL, settings.LOG_FORMAT)
    if arguments.command == "migrate":
        migrations.upgrade_blocking(settings.DATABASE_URL)
        print(f"{service} database is at the latest migration")
        return 0
    if arguments.command == "serve":
        serve(create_app(settings), settings)
    chosen = next(command for command in commands if command.name == arguments.command)
    return chosen.run(settings, arguments)
