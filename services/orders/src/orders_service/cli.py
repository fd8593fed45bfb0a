"""`python -m orders_service migrate | serve`."""

from __future__ import annotations

import argparse
import sys

import uvicorn
from pydantic import ValidationError
from tessera import configure_logging

from orders_service.adapters.migrations import upgrade_to_head
from orders_service.config import Settings
from orders_service.main import create_app


def _serve(settings: Settings) -> None:
    """uvicorn handles SIGTERM/SIGINT: drains requests, then runs the lifespan down."""
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
    parser = argparse.ArgumentParser(prog="orders_service", description="Tessera orders service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the Alembic migrations to DATABASE_URL")
    commands.add_parser("serve", help="serve HTTP on HTTP_PORT; no migrations")
    arguments = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"orders: invalid settings:\n{error}", file=sys.stderr)
        return 2
    configure_logging("orders", settings.LOG_LEVEL)
    if arguments.command == "migrate":
        upgrade_to_head(settings.DATABASE_URL)
    else:
        _serve(settings)
    return 0
