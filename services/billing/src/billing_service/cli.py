"""`python -m billing_service migrate | serve`."""

from __future__ import annotations

import argparse
import sys

import uvicorn
from pydantic import ValidationError
from tessera import configure_logging

from billing_service.adapters.migrations import upgrade_to_head
from billing_service.config import Settings
from billing_service.main import create_app


def _serve(settings: Settings) -> None:
    """HTTP and gRPC in one process; uvicorn handles SIGTERM/SIGINT and runs the lifespan down."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.HTTP_HOST,
        port=settings.HTTP_PORT,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips=settings.TRUSTED_PROXIES,
        log_config=None,
        access_log=False,  # tessera's middleware writes the JSON access log
    )
    uvicorn.Server(config).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="billing_service", description="Tessera billing service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the Alembic migrations to DATABASE_URL")
    commands.add_parser("serve", help="serve HTTP (HTTP_PORT) and gRPC (GRPC_PORT); no migrations")
    arguments = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"billing: invalid settings:\n{error}", file=sys.stderr)
        return 2
    configure_logging("billing", settings.LOG_LEVEL)
    if arguments.command == "migrate":
        upgrade_to_head(settings.DATABASE_URL)
    else:
        _serve(settings)
    return 0
