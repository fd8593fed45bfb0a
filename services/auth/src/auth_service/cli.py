"""Command line: `python -m auth_service {migrate,serve,users create-admin,clients ...,keys ...}`.

`serve` never migrates; the launcher (or an operator) runs `migrate` first.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from auth_service.api.schemas import RegisterRequest
from auth_service.bootstrap import open_storage, password_hasher_from
from auth_service.cli_clients import add_client_commands, run_client_command
from auth_service.cli_keys import add_key_commands, run_key_command
from auth_service.config import Settings
from auth_service.domain.accounts import create_or_promote_admin
from auth_service.errors import AuthServiceError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m auth_service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the Alembic migrations to DATABASE_URL")
    commands.add_parser("serve", help="serve HTTP on HTTP_HOST:HTTP_PORT")
    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    admin = users.add_parser("create-admin", help="create an admin, or promote an existing user")
    admin.add_argument("--email", required=True)
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    add_client_commands(commands)
    add_key_commands(commands)
    return parser


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise SystemExit("passwords do not match")
    return password


async def _create_admin(settings: Settings, email: str, password: str | None) -> str:
    hasher = password_hasher_from(settings)
    try:
        async with open_storage(settings) as storage, storage.unit_of_work() as uow:
            user, created = await create_or_promote_admin(
                uow=uow, hasher=hasher, email=email, password=password
            )
    finally:
        hasher.close()
    return f"{'created' if created else 'promoted'} admin {user.email} ({user.id})"


def create_admin(settings: Settings, email: str, password_stdin: bool) -> int:
    async def existing() -> bool:
        async with open_storage(settings) as storage, storage.unit_of_work() as uow:
            return await uow.users.get_by_email(email) is not None

    # promoting needs no password; creating one does, and it must meet the registration policy
    password = None if asyncio.run(existing()) else _read_password(password_stdin)
    if password is not None:
        try:
            RegisterRequest(email=email, password=password)
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
            print(f"error: {problems}", file=sys.stderr)
            return 2
    try:
        print(asyncio.run(_create_admin(settings, email, password)))
    except AuthServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def serve(settings: Settings) -> None:
    import uvicorn
    from tessera import configure_logging

    from auth_service.main import create_app

    configure_logging("auth", settings.LOG_LEVEL)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.HTTP_HOST,
        port=settings.HTTP_PORT,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        access_log=False,  # tessera's middleware writes the JSON access log
        log_config=None,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()  # handles SIGTERM/SIGINT: stop accepting, drain, lifespan exit


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: auth's settings are invalid: {problems}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        from auth_service.adapters.migrations import upgrade_database  # alembic is slow to import

        asyncio.run(upgrade_database(settings.DATABASE_URL))
        print("auth database is at the latest migration")
    elif args.command == "serve":
        serve(settings)
    elif args.command == "users":
        return create_admin(settings, args.email, args.password_stdin)
    elif args.command == "clients":
        return run_client_command(settings, args)
    elif args.command == "keys":
        return run_key_command(settings, args)
    return 0
