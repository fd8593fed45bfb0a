"""`make demo`: a guided, narrated run of every flow of the platform, live.

    python -m tessera_dev.demo --start          # a platform of its own (free ports, temp dir)
    python -m tessera_dev.demo                  # against `make run` at http://localhost:8000
    python -m tessera_dev.demo --base-url URL   # another gateway (compose: no key rotation)

Each step says what it does and why, performs it through the gateway as a client would, and
prints the HTTP status and the relevant token fields (decoded claims; a token itself only as a
six-character fingerprint). A step whose outcome is not what the platform promises stops the
demo with exit code 1; a step whose feature has not landed (or cannot be shown here) says
"skipped: ..." and the demo goes on. The waits are polled with bounds; the fixed sleeps are the
windows being shown: the refresh grace window, the refund's recent-sign-in window (and, when
every code the server would accept is used, the authenticator's next 30 s step).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tessera_dev.demo_context import DemoContext, DemoTarget
from tessera_dev.demo_email_steps import reset_password, verify_email
from tessera_dev.demo_mfa_steps import refund_needs_recent_sign_in, turn_on_two_step
from tessera_dev.demo_narration import FeatureUnavailableError, Narrator, UnexpectedOutcomeError
from tessera_dev.demo_passkey_steps import sign_in_with_passkey
from tessera_dev.demo_platform_steps import create_order, logout_all, rotate_keys
from tessera_dev.demo_session_steps import (
    list_sessions,
    login_mobile,
    login_web,
    lost_response_retry,
    refresh,
    register,
    stolen_token_replayed,
)
from tessera_dev.harness import PlatformStartError, RunningPlatform, free_port_plan
from tessera_dev.launcher import ensure_key_encryption_key_file
from tessera_dev.platform import describe_platform, sqlite_database_urls
from tessera_dev.service_clients import ServiceClientFiles, generate_service_client_secrets

DEFAULT_BASE_URL = "http://localhost:8000"
DEFAULT_INBOX_URL = "http://127.0.0.1:8025"
AUTH_DEFAULT_GRACE_SECONDS = 10.0
DEMO_GRACE_SECONDS = 2
DEMO_AUTH_SETTINGS = {
    "REFRESH_GRACE_SECONDS": str(DEMO_GRACE_SECONDS),
    "ACCESS_TOKEN_TTL_SECONDS": "120",
    "JWKS_MAX_AGE_SECONDS": "2",
    # A demo on a laptop: cheap argon2 (production refuses these).
    "PASSWORD_HASH_MEMORY_KIB": "8192",
    "PASSWORD_HASH_TIME_COST": "1",
    "PASSWORD_HASH_PARALLELISM": "1",
}
ORDERS_DEFAULT_REFUND_MAX_AGE_SECONDS = 300.0
DEMO_REFUND_MAX_AGE_SECONDS = 3
"""A refund needs a sign-in this recent (orders and billing alike): the demo waits past it to show
the step-up, a few seconds instead of the default five minutes."""
DEMO_REFUND_SETTINGS = {"REFUND_MAX_AGE_SECONDS": str(DEMO_REFUND_MAX_AGE_SECONDS)}

Step = Callable[[DemoContext], str]
STEPS: tuple[tuple[str, str, Step], ...] = (
    (
        "Register",
        "POST /v1/users creates the user (argon2id hash at auth) and mails a link; it answers\n"
        "202 alike for a taken address (whose owner is mailed a warning), so nobody learns who\n"
        "has an account.",
        register,
    ),
    (
        "Verify the email address",
        "The mail's link carries a single-use token (tsv_…, stored hashed); until it is used,\n"
        "sign-in answers 403 email-not-verified (EMAIL_VERIFICATION=required).",
        verify_email,
    ),
    (
        "Log in on mobile",
        "A native app gets both tokens in the body: a 5-minute JWT access token and an\n"
        "opaque refresh token (tsr_…, stored only hashed) that starts a session (sid).",
        login_mobile,
    ),
    (
        "Log in on the web",
        "A browser never sees its refresh token: it lives in an HttpOnly, SameSite=Strict\n"
        "cookie scoped to /v1/auth; every cookie-authenticated call echoes the CSRF cookie.",
        login_web,
    ),
    (
        "Create an order",
        "orders charges through billing over gRPC. It does not forward the user's token: it\n"
        "exchanges it (RFC 8693) for one with aud=billing and act.sub=orders.",
        create_order,
    ),
    ("List sessions", "Each login is a session: the user's devices.", list_sessions),
    (
        "Refresh (rotation)",
        "Each refresh rotates: the presented token is used up, exactly one successor issued.",
        refresh,
    ),
    (
        "A lost response, retried inside the grace window",
        "Presenting the parent again within REFRESH_GRACE_SECONDS is a retry, not theft: it\n"
        "gets the SAME successor back (sealed under a key only the parent's holder can derive).",
        lost_response_retry,
    ),
    (
        "A stolen refresh token, replayed later",
        "A rotated token presented after the grace window means two holders: the whole\n"
        "family is revoked and the revocation is pushed to every service.",
        stolen_token_replayed,
    ),
    (
        "Logout everywhere",
        "POST /v1/auth/logout-all ends every session; orders and billing learn it from the\n"
        "revocation feed (no per-request lookup), so the access tokens die with them.",
        logout_all,
    ),
    (
        "Forgot password: a reset by mail",
        "POST /v1/auth/password-reset answers 202 for any address; the mailed link sets a new\n"
        "password and ends every session: the old tokens die at orders and billing.",
        reset_password,
    ),
    (
        "Signing-key rotation under traffic",
        "A new key is published before it signs; tokens signed by the old one keep working.",
        rotate_keys,
    ),
    (
        "Two-step verification",
        "The user turns on TOTP (RFC 6238): enrolling needs a verified address and a recent\n"
        "sign-in; a code from the authenticator app confirms it and brings ten single-use\n"
        "recovery codes. From then on the password alone answers 401 mfa-required with an\n"
        "mfa_token, and POST /v1/auth/login/mfa with a code finishes the sign-in (acr mfa).\n"
        "(Late in the demo: every later password sign-in of this user would need a code.)",
        turn_on_two_step,
    ),
    (
        "Sign in with a passkey",
        "With the two-step sign-in just made (adding a passkey needs one within 5 minutes), the\n"
        "user adds a passkey: the browser's authenticator makes a key pair for this site and auth\n"
        "keeps the public key. Then the SPA signs in with it and no password (login CSRF, cookies\n"
        "as for a password): acr phr, phishing resistant, because the authenticator signs the\n"
        "page's origin and auth takes the RP ID and origin from its settings, never a request.",
        sign_in_with_passkey,
    ),
    (
        "A refund needs a recent sign-in",
        "billing refunds only for a sign-in younger than REFUND_MAX_AGE_SECONDS (RFC 9470):\n"
        "orders relays billing's challenge (401, the same WWW-Authenticate) and leaves the order\n"
        "as it was. The app steps up (with two-step verification on, only a code counts) and\n"
        "retries the cancel.",
        refund_needs_recent_sign_in,
    ),
)


def run_steps(target: DemoTarget, narrator: Narrator) -> int:
    """Every step in order; 0 when each ran or was skipped, 1 at the first wrong outcome."""
    context = DemoContext(target, narrator)
    skipped: list[str] = []
    try:
        for title, why, step in STEPS:
            narrator.step(title, why)
            try:
                narrator.ok(step(context))
            except FeatureUnavailableError as skip:
                narrator.skipped(str(skip))
                skipped.append(title)
            except (UnexpectedOutcomeError, httpx.HTTPError) as failure:
                narrator.failed(str(failure) or type(failure).__name__)
                narrator.say(f"\ndemo FAILED at step {narrator.number} ({title}): {failure}")
                return 1
    finally:
        context.close()
    ran = len(STEPS) - len(skipped)
    narrator.say(f"\ndemo complete: {ran} of {len(STEPS)} steps ran, {len(skipped)} skipped")
    for title in skipped:
        narrator.say(f"  skipped: {title}")
    return 0


@contextmanager
def own_platform(narrator: Narrator) -> Iterator[DemoTarget]:
    """A platform of the demo's own: SQLite in a temporary directory, free ports, short token
    lifetimes and grace window; stopped (and its files removed) afterwards."""
    with tempfile.TemporaryDirectory(prefix="tessera-demo-") as directory:
        var_dir = Path(directory) / "var"
        var_dir.mkdir()
        kek_file = var_dir / "auth-kek"
        ensure_key_encryption_key_file(kek_file)
        plan = describe_platform(
            ports=free_port_plan(),
            database_urls=sqlite_database_urls(var_dir),
            extra_settings={
                "auth": {**DEMO_AUTH_SETTINGS, "KEY_ENCRYPTION_KEY_FILE": str(kek_file)},
                "orders": DEMO_REFUND_SETTINGS,
                "billing": DEMO_REFUND_SETTINGS,
            },
            service_clients=generate_service_client_secrets(var_dir),
        )
        narrator.say(f"starting a platform of the demo's own (SQLite in {directory}) ...")
        with RunningPlatform.start(plan, log_dir=Path(directory) / "logs", gateway=True) as running:
            narrator.say(f"platform ready: gateway {running.plan.gateway.base_url}")
            secret_file = running.plan.service("orders").settings["SERVICE_CLIENT_SECRET_FILE"]
            yield DemoTarget(
                base_url=running.plan.gateway.base_url,
                grace_seconds=DEMO_GRACE_SECONDS,
                inbox_url=running.plan.mail.inbox_url,
                auth_environment=running.plan.service("auth").settings,
                orders_client_secret=Path(secret_file).read_text().strip(),
                refund_max_age_seconds=DEMO_REFUND_MAX_AGE_SECONDS,
                web_origin=running.plan.issuer,
            )


def make_run_target(
    base_url: str,
    grace_seconds: float,
    var_dir: Path | None,
    inbox_url: str,
    refund_max_age_seconds: float = ORDERS_DEFAULT_REFUND_MAX_AGE_SECONDS,
) -> DemoTarget:
    """A running platform; with `var_dir` (make run's), also its auth database and secrets."""
    if var_dir is None or not (var_dir / "auth.db").exists():
        return DemoTarget(
            base_url=base_url.rstrip("/"),
            grace_seconds=grace_seconds,
            inbox_url=inbox_url,
            refund_max_age_seconds=refund_max_age_seconds,
        )
    var_dir = var_dir.resolve()
    auth = describe_platform(
        database_urls=sqlite_database_urls(var_dir),
        extra_settings={"auth": {"KEY_ENCRYPTION_KEY_FILE": str(var_dir / "auth-kek")}},
    ).service("auth")
    secret_file = ServiceClientFiles.in_directory(var_dir).secret_files["orders"]
    return DemoTarget(
        base_url=base_url.rstrip("/"),
        grace_seconds=grace_seconds,
        inbox_url=inbox_url,
        auth_environment=auth.settings,
        orders_client_secret=secret_file.read_text().strip() if secret_file.exists() else None,
        refund_max_age_seconds=refund_max_age_seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tessera_dev.demo", description=__doc__)
    parser.add_argument("--start", action="store_true", help="start a platform of its own")
    parser.add_argument(
        "--base-url",
        default=os.environ.get("DEMO_BASE_URL") or DEFAULT_BASE_URL,
        help=f"the gateway of a running platform (default {DEFAULT_BASE_URL}, make run's)",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=AUTH_DEFAULT_GRACE_SECONDS,
        help="the running auth's REFRESH_GRACE_SECONDS (default: auth's default, 10)",
    )
    parser.add_argument(
        "--refund-max-age-seconds",
        type=float,
        default=float(
            os.environ.get("REFUND_MAX_AGE_SECONDS") or ORDERS_DEFAULT_REFUND_MAX_AGE_SECONDS
        ),
        help="the running orders' and billing's REFUND_MAX_AGE_SECONDS (default: "
        "$REFUND_MAX_AGE_SECONDS, else their default, 300; the refund step is skipped above "
        "60 s)",
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=None,
        help="make run's var directory, for the key rotation and the exchange (default: var/ "
        "when the base URL is make run's)",
    )
    parser.add_argument(
        "--inbox-url",
        default=os.environ.get("DEMO_INBOX_URL") or DEFAULT_INBOX_URL,
        help=f"the platform's inbox, Mailpit's API (default {DEFAULT_INBOX_URL}: make run's "
        "catcher, or compose's Mailpit)",
    )
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    narrator = Narrator()
    if args.start:
        try:
            with own_platform(narrator) as target:
                return run_steps(target, narrator)
        except PlatformStartError as error:
            narrator.say(f"demo FAILED: the platform did not start:\n{error}")
            return 1
    var_dir = args.var_dir
    if var_dir is None and args.base_url.rstrip("/") in (DEFAULT_BASE_URL, "http://127.0.0.1:8000"):
        var_dir = Path("var")
    target = make_run_target(
        args.base_url,
        args.grace_seconds,
        var_dir,
        args.inbox_url,
        refund_max_age_seconds=args.refund_max_age_seconds,
    )
    narrator.say(f"demo against {target.base_url}")
    return run_steps(target, narrator)


if __name__ == "__main__":
    sys.exit(main())
