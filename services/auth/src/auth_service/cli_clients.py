"""`python -m auth_service clients create|rotate|list`: manage service clients by hand.

`create` and `rotate` print the new secret once, on stdout, and nothing else there (so
`SECRET=$(python -m auth_service clients rotate orders)` works); it is stored only hashed.
Permissions default to the client's rule in `SERVICE_CLIENT_RULES`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from tessera.service_cli import ServiceCommand, Subcommands

from auth_service.adapters.client_settings import configured_permissions
from auth_service.adapters.storage import open_storage
from auth_service.bootstrap import service_clients_from
from auth_service.config import Settings
from auth_service.domain.service_clients import ClientAlreadyExistsError, ClientPermissions


def _add(commands: Subcommands[argparse.ArgumentParser]) -> None:
    clients = commands.add_parser("clients", help="manage service clients").add_subparsers(
        dest="clients_command", required=True
    )
    create = clients.add_parser("create", help="register a client and print its secret once")
    create.add_argument("client_id")
    create.add_argument("--grant", action="append", help="allowed grant type (repeatable)")
    create.add_argument("--audience", action="append", help="allowed audience (repeatable)")
    create.add_argument("--scope", action="append", help="allowed scope (repeatable)")
    rotate = clients.add_parser("rotate", help="replace a client's secret and print it once")
    rotate.add_argument("client_id")
    clients.add_parser("list", help="list clients (never their secrets)")


def _permissions(settings: Settings, args: argparse.Namespace) -> ClientPermissions:
    default = configured_permissions(settings).get(args.client_id, ClientPermissions())
    return ClientPermissions(
        grants=tuple(args.grant) if args.grant else default.grants,
        audiences=tuple(args.audience) if args.audience else default.audiences,
        scopes=tuple(args.scope) if args.scope else default.scopes,
    )


async def _clients_command(settings: Settings, args: argparse.Namespace) -> str:
    async with open_storage(settings.DATABASE_URL) as storage:
        clients = service_clients_from(storage, lambda: datetime.now(UTC))
        if args.clients_command == "create":
            _, secret = await clients.create(args.client_id, _permissions(settings, args))
            return secret
        if args.clients_command == "rotate":
            _, secret = await clients.rotate(args.client_id)
            return secret
        lines = [
            f"{client.client_id}\tgrants={','.join(client.permissions.grants) or '-'}"
            f"\taudiences={','.join(client.permissions.audiences) or '-'}"
            f"\tscopes={','.join(client.permissions.scopes) or '-'}"
            f"\tcreated={client.created_at.isoformat()}\trotated={client.rotated_at.isoformat()}"
            for client in await clients.registered()
        ]
        return "\n".join(lines)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        output = asyncio.run(_clients_command(settings, args))
    except ClientAlreadyExistsError as exc:
        print(f"error: {exc}; use `clients rotate` for a new secret", file=sys.stderr)
        return 1
    except (ValueError, LookupError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    if output:
        print(output)
    if args.clients_command in ("create", "rotate"):
        print(
            f"secret for {args.client_id!r} printed above; it is not shown again", file=sys.stderr
        )
    return 0


CLIENTS_COMMAND = ServiceCommand[Settings]("clients", _add, _run)
