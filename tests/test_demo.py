"""`make demo` end to end: the real command starts its own platform, runs every flow, and says
what happened; each step's outcome is checked in what it printed, and no token is ever printed.

Every step must run (none skipped), the key rotation, the passkey sign-in and the refund's
step-up included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

DEMO_TIMEOUT_SECONDS = 240
FULL_TOKEN = re.compile(
    r"eyJ[\w-]{8,}|ts[rvpm]_[\w-]{3,}"
    r"|(?<![\w-])[A-Z2-7]{32}(?![\w-])"
    r"|(?<![\w-])[a-z2-9]{4}(?:-[a-z2-9]{4}){3}(?![\w-])"
)
"""More of a JWT or a tsr_/tsv_/tsp_/tsm_ token than the demo's six-character fingerprint, or a
whole TOTP secret (32 base32 characters) or recovery code (four groups of four)."""

OUTCOMES = (
    "✓ registered demo-",
    "✓ address verified with the mailed link; a second use is refused",
    "✓ mobile session ",
    "✓ web session started: refresh token only in an HttpOnly cookie, CSRF enforced",
    "paid; billing's invoice",
    "✓ two sessions listed: mobile (current) and web",
    "✓ rotated: a new refresh token, the same sid",
    "✓ the SAME successor came back inside the 2 s grace window",
    "✓ reuse detected: family revoked, thief and app both get invalid_grant",
    "✓ logout-all reached orders and billing in",
    "✓ reset by mail: the old sessions died at orders and billing in",
    "✓ rotated keys: new tokens carry kid",
    "✓ two-step verification on: the password alone gets 401 mfa-required; with a code, a "
    "session at acr urn:tessera:acr:mfa",
    "✓ a passkey signed the user in with no password at acr urn:tessera:acr:phr (amr hwk,mfa); "
    "its answer on a phishing page was refused (401 for origin https://tessera.example.evil)",
    "✓ a refund refused to a sign-in older than 3 s (the order stayed paid), granted after a "
    "step-up with a code: order cancelled, invoice refunded",
    "demo complete:",
)


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    """What `make demo` runs (DEMO_BASE_URL unset: a platform of its own)."""
    return subprocess.run(
        [sys.executable, "-m", "tessera_dev.demo", "--start"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=DEMO_TIMEOUT_SECONDS,
        check=False,
    )


def test_the_demo_performs_every_landed_flow_with_the_promised_outcome(
    demo: subprocess.CompletedProcess[str],
) -> None:
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert re.search(r"demo complete: (\d+) of \1 steps ran, 0 skipped", demo.stdout), demo.stdout
    position = 0
    for outcome in OUTCOMES:
        found = demo.stdout.find(outcome, position)
        assert found >= 0, f"missing, or out of order: {outcome!r}\n{demo.stdout}"
        position = found


def test_the_demo_shows_the_token_fields_each_flow_is_about(
    demo: subprocess.CompletedProcess[str],
) -> None:
    out = demo.stdout
    assert "client_id=mobile" in out
    assert "client_id=web" in out
    assert "Set-Cookie: tessera_rt=tsr_" in out
    assert "HttpOnly" in out
    assert "POST /v1/auth/token → 403 Forbidden" in out  # a cookie refresh without CSRF
    # the token orders exchanged for billing: the user's, acting through orders, for billing only
    assert re.search(r"client_id=orders aud=billing scope=\"[^\"]*billing:charge", out)
    assert "act.sub=orders" in out
    # the order's total and its invoice in euros (2 x 12.50 + 19.99), not in cents
    assert "POST /v1/orders → 201 Created  status=paid total=44.99 EUR" in out
    assert re.search(r"invoice for order [\w-]+: 44\.99 EUR, user ", out)
    # the devices as a table under a header row, the mobile app's own marked
    assert re.search(r"\n +CLIENT +ID +IP +USER AGENT +CURRENT\n", out)
    assert re.search(r"\n +mobile +[\w-]+ +\S+ +.+ +\*\n", out)
    # two-step verification: ten recovery codes, the password alone is not enough, acr mfa
    assert "10 recovery codes, shown once" in out
    assert "POST /v1/auth/login → 401 Unauthorized  signing in again, the password alone: " in out
    assert "type=urn:tessera:problem:mfa-required" in out
    assert "type=urn:tessera:problem:mfa-code-invalid" in out  # a used code, presented again
    assert re.search(r"POST /v1/auth/login/mfa → 200 OK  the same mfa_token, code \d{6}", out)
    assert re.search(r"acr=urn:tessera:acr:mfa amr=pwd,otp,mfa auth_time=\d+ s ago", out)
    # passkeys: added behind the fresh two-step sign-in, a passwordless web sign-in at acr phr,
    # and the same authenticator's answer on a phishing page refused
    assert "POST /v1/users/me/passkeys → 201 Created" in out
    assert re.search(r"authenticator signs: type=webauthn\.get origin=http://localhost:\d+ ", out)
    assert "POST /v1/auth/passkey/login → 200 OK  client_id=web, X-CSRF-Token echoed" in out
    assert re.search(r"acr=urn:tessera:acr:phr amr=hwk,mfa auth_time=\d+ s ago", out)
    assert "the signed answer says: type=webauthn.get origin=https://tessera.example.evil" in out
    assert (
        "POST /v1/auth/passkey/login → 401 Unauthorized  the phisher relays it to auth: "
        "type=urn:tessera:problem:passkey-sign-in-refused"
    ) in out
    # the refusal did not lock the user out: the passkey, just used, is not flagged
    assert re.search(r"\n +NAME +LAST USED +FLAGGED\n +\S.* +\d+ s ago +no\n", out)
    # the refund: billing's challenge relayed by orders, the order untouched until the step-up
    assert re.search(
        r"POST /v1/orders/[\w-]+/cancel → 401 Unauthorized.*\n *WWW-Authenticate: Bearer "
        r'error="insufficient_user_authentication".*max_age="3"',
        out,
    )
    assert "after the refusal: status=paid" in out
    assert re.search(r"POST /v1/auth/step-up → 403 Forbidden  a step-up with the password", out)
    assert re.search(r"POST /v1/auth/step-up → 200 OK  a step-up with code \d{6}", out)
    assert "after the retry: status=cancelled" in out
    assert "its invoice at billing: status=refunded" in out


def test_the_demo_never_prints_a_whole_token(demo: subprocess.CompletedProcess[str]) -> None:
    assert "access token" in demo.stdout  # it did talk about tokens
    assert FULL_TOKEN.findall(demo.stdout + demo.stderr) == []
