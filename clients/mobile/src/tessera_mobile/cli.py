"""`tessera-mobile`: the reference client as a command line, one subcommand per app screen.

    tessera-mobile register --email ada@example.com          # password prompted
    tessera-mobile verify TOKEN                               # the token of the mailed link
    tessera-mobile login --email ada@example.com --password-stdin < pw.txt
    tessera-mobile reset-password ada@example.com             # mails a reset link
    tessera-mobile reset-confirm TOKEN                        # new password prompted
    tessera-mobile order create --sku BOOK-1 --quantity 2 --price-cents 1250 --currency EUR
    tessera-mobile order create ... --idempotency-key KEY    # retry an order whose answer was lost
    tessera-mobile order cancel ORDER_ID                      # a refund may ask for the password
    tessera-mobile orders | invoices | sessions | logout

The refresh token lives in --store (mode 0600); each invocation refreshes the access token from it,
exactly as an app does after a cold start. Every failure is one line on stderr. Exit codes: 0 ok,
1 API or client error (the token file included), 2 usage, 3 not signed in / session ended,
4 Tessera unreachable or its answer lost (for `order create` the line gives the key to retry with).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from tessera_mobile.client import TesseraClient
from tessera_mobile.errors import (
    AnswerLostError,
    EmailNotVerifiedError,
    MobileClientError,
    NotSignedInError,
    ServiceUnreachableError,
    SessionExpiredError,
    StepUpRequiredError,
)
from tessera_mobile.store import TokenStore

DEFAULT_BASE_URL = "http://localhost:8000"
DEFAULT_STORE = "~/.config/tessera-mobile/refresh_token"

EXIT_ERROR, EXIT_SIGNED_OUT, EXIT_UNREACHABLE = 1, 3, 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tessera-mobile", description="Tessera mobile reference client"
    )
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="Tessera's public URL")
    parser.add_argument("--store", default=DEFAULT_STORE, help="refresh-token file (mode 0600)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("register", "create an account"), ("login", "sign in on this device")):
        account = commands.add_parser(name, help=text)
        account.add_argument("--email", required=True)
        account.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    verify = commands.add_parser("verify", help="verify my address with the mailed link's token")
    verify.add_argument("token", help="the token=… part of the link (tsv_…)")
    resend = commands.add_parser("resend-verification", help="mail the verification link again")
    resend.add_argument("email")
    reset = commands.add_parser("reset-password", help="mail me a link to choose a new password")
    reset.add_argument("email")
    confirm = commands.add_parser("reset-confirm", help="choose a new password with the link")
    confirm.add_argument("token", help="the token=… part of the link (tsp_…)")
    confirm.add_argument(
        "--password-stdin", action="store_true", help="read the new password from stdin"
    )
    commands.add_parser("orders", help="list my orders")
    order = commands.add_parser("order", help="order commands")
    order_commands = order.add_subparsers(dest="order_command", required=True, metavar="COMMAND")
    create = order_commands.add_parser("create", help="place an order for one item")
    create.add_argument("--sku", required=True)
    create.add_argument("--quantity", type=int, required=True)
    create.add_argument("--price-cents", type=int, required=True, help="unit price in cents")
    create.add_argument("--currency", default="EUR", help="ISO 4217 code")
    create.add_argument(
        "--idempotency-key",
        help="the key of an earlier attempt whose answer was lost: the same item again gets "
        "that order instead of a second one (default: a new key, so a new order)",
    )
    cancel = order_commands.add_parser(
        "cancel", help="cancel an order (a paid one is refunded: may ask for the password)"
    )
    cancel.add_argument("order_id")
    cancel.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin if a recent sign-in is needed",
    )
    commands.add_parser("invoices", help="list my invoices")
    commands.add_parser("sessions", help="list my signed-in devices")
    commands.add_parser("logout", help="sign out on this device")
    commands.add_parser("logout-all", help="sign out on every device")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        asks_password = args.command in ("register", "login", "reset-confirm")
        password = _read_password(args) if asks_password else None
        return asyncio.run(_run(args, password))
    except (NotSignedInError, SessionExpiredError) as exc:
        _fail(str(exc))
        return EXIT_SIGNED_OUT
    except (ServiceUnreachableError, AnswerLostError) as exc:
        _fail(str(exc))
        return EXIT_UNREACHABLE
    except EmailNotVerifiedError:
        _fail(
            "your address is not verified yet: open the link we mailed you, or "
            "`tessera-mobile resend-verification EMAIL` for a new one"
        )
        return EXIT_ERROR
    except MobileClientError as exc:
        _fail(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, password: str | None) -> int:
    store = TokenStore(args.store)
    async with TesseraClient(base_url=args.base_url, store=store) as client:
        match args.command:
            case "register":
                answer = await client.register(args.email, password or "")
                print(
                    f"registration sent for {answer.get('email', args.email)}: open the link "
                    "mailed to that address, or run `tessera-mobile verify TOKEN` with its "
                    "token; then `tessera-mobile login`"
                )
            case "verify":
                await client.verify_email(args.token)
                print("address verified: you can sign in (tessera-mobile login)")
            case "resend-verification":
                await client.resend_verification(args.email)
                print(f"if {args.email} has an unverified account, a new link is on its way")
            case "reset-password":
                await client.request_password_reset(args.email)
                print(
                    f"if {args.email} has an account, a reset link is on its way (30 minutes); "
                    "then `tessera-mobile reset-confirm TOKEN`"
                )
            case "reset-confirm":
                await client.confirm_password_reset(args.token, password or "")
                print("password changed; every device was signed out: sign in again")
            case "login":
                await client.login(args.email, password or "")
                print(f"signed in as {args.email}; refresh token stored in {store.path}")
            case "orders":
                _print_rows(await client.list_orders(), ("id", "status", "total_cents", "currency"))
            case "order" if args.order_command == "cancel":
                order = await _cancel_order(client, args)
                _print_rows([order], ("id", "status", "total_cents", "currency", "invoice_id"))
            case "order":
                order = await _create_order(client, args)
                _print_rows([order], ("id", "status", "total_cents", "currency", "invoice_id"))
            case "invoices":
                _print_rows(
                    await client.list_invoices(),
                    ("id", "order_id", "status", "amount_cents", "currency"),
                )
            case "sessions":
                sessions = await client.list_sessions()
                for session in sessions:
                    session["current"] = "*" if session.get("current") else ""
                _print_rows(sessions, ("current", "id", "client_id", "ip", "last_used_at"))
            case "logout":
                await client.logout()
                print("signed out")
            case "logout-all":
                await client.logout_all()
                print("signed out on every device")
    return 0


async def _create_order(client: TesseraClient, args: argparse.Namespace) -> dict[str, Any]:
    """Place the order under a key chosen here, so a lost answer can be retried with it."""
    key = args.idempotency_key or str(uuid.uuid4())
    try:
        return await client.create_order(
            sku=args.sku,
            quantity=args.quantity,
            unit_price_cents=args.price_cents,
            currency=args.currency,
            idempotency_key=key,
        )
    except AnswerLostError as exc:
        hint = (
            f"to retry without placing it twice, run the same command with --idempotency-key {key}"
        )
        raise AnswerLostError(exc.base_url, exc.reason, retry_hint=hint) from exc


async def _cancel_order(client: TesseraClient, args: argparse.Namespace) -> dict[str, Any]:
    """Cancel; if the refund needs a more recent sign-in (RFC 9470), confirm the password (an
    app would show a dialog), step the session up and try once more."""
    try:
        return await client.cancel_order(args.order_id)
    except StepUpRequiredError as needed:
        minutes = f" within the last {max(1, needed.max_age // 60)} min" if needed.max_age else ""
        print(f"a refund needs a sign-in{minutes}: confirm your password", file=sys.stderr)
        await client.step_up(_read_password(args))
        return await client.cancel_order(args.order_id)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
    if not password:
        raise MobileClientError("a password is required")
    return password


def _print_rows(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    for row in rows:
        print("  ".join(f"{row.get(column, '')}" for column in columns))


def _fail(message: str) -> None:
    print(f"tessera-mobile: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
