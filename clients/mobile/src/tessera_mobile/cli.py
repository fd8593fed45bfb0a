"""`tessera-mobile`: the reference client as a command line, one subcommand per app screen.

    tessera-mobile register --email ada@example.com          # password prompted
    tessera-mobile verify TOKEN                               # the token of the mailed link
    tessera-mobile login --email ada@example.com --password-stdin < pw.txt
    tessera-mobile login --email ada@example.com --code 123456   # two-step sign-in, no prompt
    tessera-mobile reset-password ada@example.com             # mails a reset link
    tessera-mobile reset-confirm TOKEN                        # new password prompted
    tessera-mobile order create --sku BOOK-1 --quantity 2 --price-cents 1250 --currency EUR
    tessera-mobile order create ... --idempotency-key KEY    # retry an order whose answer was lost
    tessera-mobile order cancel ORDER_ID                      # a refund may ask for the password
                                                              # (or, with two-step sign-in, a code)
    tessera-mobile mfa status | enable | confirm CODE | recovery-codes | disable
    tessera-mobile orders | invoices | sessions | logout

Lists print as a table under a header row, amounts in the currency's units (`25.00 EUR`).
The refresh token lives in --store (mode 0600); each invocation refreshes the access token from it,
exactly as an app does after a cold start. Every failure is one line on stderr. Exit codes: 0 ok,
1 API or client error (the token file included), 2 usage, 3 not signed in / session ended,
4 Tessera unreachable or its answer lost (for `order create` the line gives the key to retry with).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from tessera_mobile.client import ACR_MFA, TesseraClient
from tessera_mobile.errors import (
    AnswerLostError,
    EmailNotVerifiedError,
    MfaCodeInvalidError,
    MfaRequiredError,
    MfaTokenInvalidError,
    MobileClientError,
    NotSignedInError,
    ServiceUnreachableError,
    SessionExpiredError,
    StepUpRequiredError,
)
from tessera_mobile.store import TokenStore
from tessera_mobile.tables import (
    INVOICE_COLUMNS,
    ORDER_COLUMNS,
    SESSION_COLUMNS,
    Column,
    Row,
    render,
)

DEFAULT_BASE_URL = "http://localhost:8000"
DEFAULT_STORE = "~/.config/tessera-mobile/refresh_token"

EXIT_ERROR, EXIT_SIGNED_OUT, EXIT_UNREACHABLE = 1, 3, 4
CODE_ATTEMPTS = 3  # codes a person may type at the login prompt (the server allows 5 per login)
_TOTP_CODE = re.compile(r"[0-9]{6}")

T = TypeVar("T")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tessera-mobile", description="Tessera mobile reference client"
    )
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="Tessera's public URL")
    parser.add_argument("--store", default=DEFAULT_STORE, help="refresh-token file (mode 0600)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register = commands.add_parser("register", help="create an account")
    register.add_argument("--email", required=True)
    register.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    login = commands.add_parser("login", help="sign in on this device")
    login.add_argument("--email", required=True)
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (and, with two-step sign-in, the code from the "
        "next line)",
    )
    _add_code_options(login, "if the account has two-step sign-in")
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
    create.add_argument(
        "--price-cents",
        type=int,
        required=True,
        help="unit price in the currency's minor unit: cents (1250 is 12.50 EUR), yen for JPY",
    )
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
    _add_step_up_options(cancel)
    mfa = commands.add_parser("mfa", help="two-step sign-in with an authenticator app (TOTP)")
    mfa_commands = mfa.add_subparsers(dest="mfa_command", required=True, metavar="COMMAND")
    mfa_commands.add_parser("status", help="is two-step sign-in on; recovery codes left")
    enable = mfa_commands.add_parser(
        "enable", help="start enrolling an authenticator app (prints its secret)"
    )
    _add_step_up_options(enable)
    confirm_totp = mfa_commands.add_parser(
        "confirm", help="turn two-step sign-in on with the app's code (prints recovery codes)"
    )
    confirm_totp.add_argument("code", help="the code the authenticator app shows")
    codes = mfa_commands.add_parser(
        "recovery-codes", help="new recovery codes (the old ones stop working)"
    )
    _add_step_up_options(codes)
    disable = mfa_commands.add_parser("disable", help="turn two-step sign-in off")
    _add_step_up_options(disable)
    commands.add_parser("invoices", help="list my invoices")
    commands.add_parser("sessions", help="list my signed-in devices")
    commands.add_parser("logout", help="sign out on this device")
    commands.add_parser("logout-all", help="sign out on every device")
    return parser


def _add_code_options(parser: argparse.ArgumentParser, when: str) -> None:
    factor = parser.add_mutually_exclusive_group()
    factor.add_argument(
        "--code", help=f"the authenticator app's current code, {when} (else it is prompted for)"
    )
    factor.add_argument(
        "--recovery-code",
        action="store_true",
        help=f"use a recovery code instead, {when} (prompted for, or read from stdin)",
    )


def _add_step_up_options(parser: argparse.ArgumentParser) -> None:
    """The options of a command that may have to confirm a recent sign-in (RFC 9470)."""
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="if a recent sign-in is needed, read the password (or, with two-step sign-in, "
        "the code) from stdin",
    )
    _add_code_options(parser, "if a recent sign-in is needed")


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
    except MfaCodeInvalidError:
        _fail(
            "that code is wrong or was already used: sign in again with the next code "
            "your authenticator app shows (or an unused recovery code)"
        )
        return EXIT_ERROR
    except MfaTokenInvalidError:
        _fail("the sign-in took too long or had too many wrong codes: sign in again")
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
                await _login(client, args, password or "")
                print(f"signed in as {args.email}; refresh token stored in {store.path}")
            case "orders":
                _print_table(ORDER_COLUMNS, await client.list_orders())
            case "order" if args.order_command == "cancel":
                _print_table(ORDER_COLUMNS, [await _cancel_order(client, args)])
            case "order":
                _print_table(ORDER_COLUMNS, [await _create_order(client, args)])
            case "mfa":
                await _mfa(client, args)
            case "invoices":
                _print_table(INVOICE_COLUMNS, await client.list_invoices())
            case "sessions":
                _print_table(SESSION_COLUMNS, await client.list_sessions())
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


async def _login(client: TesseraClient, args: argparse.Namespace, password: str) -> None:
    """Sign in; with two-step sign-in, finish with the authenticator's code (or a recovery code).
    A code typed at the prompt may be retried (the server keeps the sign-in open for a few
    wrong codes); one given by `--code` or stdin is tried once."""
    try:
        await client.login(args.email, password)
        return
    except MfaRequiredError as required:
        mfa_token = required.mfa_token
    prompted = not (args.code or args.password_stdin)
    if prompted:
        _say(f"two-step sign-in: {_CODE_REQUEST}")
    attempts = CODE_ATTEMPTS if prompted else 1
    while True:
        code, recovery_code = _read_second_factor(args)
        try:
            await client.login_mfa(mfa_token, code=code, recovery_code=recovery_code)
            return
        except MfaCodeInvalidError:
            attempts -= 1
            if attempts == 0:
                raise
            _say("that code is wrong or was already used: try the next one")


_CODE_REQUEST = "enter the code your authenticator app shows (or a recovery code)"


async def _cancel_order(client: TesseraClient, args: argparse.Namespace) -> dict[str, Any]:
    """Cancel; if the refund needs a more recent sign-in (RFC 9470), confirm it (an app would
    show a dialog), step the session up and try once more."""
    return await _with_step_up(client, args, "a refund", lambda: client.cancel_order(args.order_id))


async def _with_step_up(
    client: TesseraClient,
    args: argparse.Namespace,
    what: str,
    operation: Callable[[], Awaitable[T]],
) -> T:
    """Run `operation`; on a step-up challenge confirm the sign-in and run it once more: with the
    password, or with a code when the challenge asks for a second factor or the account has
    two-step sign-in on (then the server takes nothing else)."""
    try:
        return await operation()
    except StepUpRequiredError as needed:
        minutes = f" within the last {max(1, needed.max_age // 60)} min" if needed.max_age else ""
        if await _needs_code(client, needed):
            _say(f"{what} needs a sign-in{minutes}: {_CODE_REQUEST}")
            code, recovery_code = _read_second_factor(args)
            await client.step_up(code=code, recovery_code=recovery_code)
        else:
            _say(f"{what} needs a sign-in{minutes}: confirm your password")
            await client.step_up(_read_password(args))
    return await operation()


async def _needs_code(client: TesseraClient, needed: StepUpRequiredError) -> bool:
    if needed.acr_values and ACR_MFA in needed.acr_values.split():
        return True
    return (await client.mfa_status()).get("totp") == "on"


async def _mfa(client: TesseraClient, args: argparse.Namespace) -> None:
    match args.mfa_command:
        case "status":
            status = await client.mfa_status()
            print(
                f"two-step sign-in (TOTP): {status.get('totp', '?')}; "
                f"recovery codes left: {status.get('recovery_codes_left', '?')}"
            )
        case "enable":
            enrollment = await _with_step_up(
                client, args, "enrolling an authenticator", client.enable_totp
            )
            print("add this account to your authenticator app: scan a QR code of the URI,")
            print("or type in the secret; anyone who sees them can make your codes")
            print(f"otpauth URI: {enrollment.otpauth_uri}")
            print(f"secret: {enrollment.secret}")
            print("then turn it on with `tessera-mobile mfa confirm CODE` (the code it shows)")
        case "confirm":
            codes = await client.confirm_totp(args.code.replace(" ", ""))
            print("two-step sign-in is on. Recovery codes, each good for one sign-in without")
            print("the app; keep them somewhere safe, they are not shown again:")
            _print_codes(codes)
        case "recovery-codes":
            codes = await _with_step_up(
                client, args, "new recovery codes", client.regenerate_recovery_codes
            )
            print("new recovery codes (the old ones no longer work; these are not shown again):")
            _print_codes(codes)
        case "disable":
            await _with_step_up(client, args, "turning two-step sign-in off", client.disable_totp)
            print("two-step sign-in is off (its recovery codes no longer work)")


def _print_codes(codes: Sequence[str]) -> None:
    for code in codes:
        print(f"  {code}")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
    if not password:
        raise MobileClientError("a password is required")
    return password


def _read_second_factor(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(code, recovery_code), one of them set: `--code`, else a line of stdin with
    `--password-stdin`, else a prompt (not echoed: a recovery code is a secret). A typed six
    digits is the authenticator's code, anything else a recovery code."""
    if args.code:
        return args.code.replace(" ", ""), None
    if args.password_stdin:
        typed = sys.stdin.readline().strip()
    else:
        typed = getpass.getpass("recovery code: " if args.recovery_code else "code: ").strip()
    if not typed:
        raise MobileClientError("a code is required")
    if not args.recovery_code and _TOTP_CODE.fullmatch(typed.replace(" ", "")):
        return typed.replace(" ", ""), None
    return None, typed


def _print_table(columns: Sequence[Column], rows: Sequence[Row]) -> None:
    print(render(columns, rows) if rows else "(none)")


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _fail(message: str) -> None:
    print(f"tessera-mobile: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
