"""`python -m auth_service users create-admin --email E [--password-stdin]`: the first admin;
`users reset-mfa --email E`: remove the second factor of a user who lost device and codes.

create-admin creates the account (the password must meet the registration policy) or promotes
an existing one; promotion needs no password. Without `--password-stdin` the password is asked
for twice on the terminal; it is never echoed, logged or printed.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from pydantic import ValidationError
from tessera.service_cli import ServiceCommand, Subcommands

from auth_service.adapters.key_encryption import load_key_encryption_key
from auth_service.adapters.mail_outbox import OutboxSealer
from auth_service.adapters.rate_limits import RateLimiter
from auth_service.adapters.storage import open_storage
from auth_service.api.schemas import RegisterRequest
from auth_service.bootstrap import password_hasher_from
from auth_service.config import Settings
from auth_service.errors import AuthServiceError
from auth_service.use_cases.accounts import Accounts
from auth_service.use_cases.mailing import MailLinks
from auth_service.use_cases.mfa import reset_mfa_by_operator


def _add(commands: Subcommands[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    admin = users.add_parser("create-admin", help="create an admin, or promote an existing user")
    admin.add_argument("--email", required=True)
    admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    reset = users.add_parser(
        "reset-mfa",
        help="remove a user's TOTP factor and recovery codes (audited; the user is mailed)",
    )
    reset.add_argument("--email", required=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise SystemExit("passwords do not match")
    return password


@asynccontextmanager
async def _accounts(settings: Settings) -> AsyncIterator[Accounts]:
    hasher = password_hasher_from(settings)
    try:
        async with open_storage(settings.DATABASE_URL) as storage:
            # an operator's command is not rate limited
            yield Accounts(
                storage.unit_of_work,
                hasher,
                RateLimiter.create(None, {}),
                lambda: datetime.now(UTC),
                MailLinks(settings.app_url),
            )
    finally:
        hasher.close()


async def _exists(settings: Settings, email: str) -> bool:
    async with _accounts(settings) as accounts:
        return await accounts.exists(email)


async def _create_or_promote(settings: Settings, email: str, password: str | None) -> str:
    async with _accounts(settings) as accounts:
        user, created = await accounts.create_or_promote_admin(email=email, password=password)
    return f"{'created' if created else 'promoted'} admin {user.email} ({user.id})"


async def _reset_mfa(settings: Settings, email: str) -> str:
    async with open_storage(settings.DATABASE_URL) as storage:
        # the notice mail goes to the outbox, sealed like the service's; its worker sends it
        kek = load_key_encryption_key(settings, create_dev_key=False)
        storage.outbox_sealer = OutboxSealer(kek)
        removed = await reset_mfa_by_operator(
            storage.unit_of_work,
            MailLinks(settings.app_url),
            email=email,
            now=datetime.now(UTC),
        )
    if removed:
        return f"removed the second factor of {email}; they sign in with the password now"
    return f"{email} had no second factor; nothing changed"


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.users_command == "reset-mfa":
        try:
            print(asyncio.run(_reset_mfa(settings, args.email)))
        except AuthServiceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    email = args.email
    existing = asyncio.run(_exists(settings, email))
    # promoting needs no password; creating one does, and it must meet the registration policy
    password = None if existing else _read_password(args.password_stdin)
    if password is not None:
        try:
            RegisterRequest(email=email, password=password)
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
            print(f"error: {problems}", file=sys.stderr)
            return 2
    try:
        print(asyncio.run(_create_or_promote(settings, email, password)))
    except AuthServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


USERS_COMMAND = ServiceCommand[Settings]("users", _add, _run)
