"""What the demo prints: step headers, HTTP exchanges, token fields, outcomes. Never a token.

A token is only ever shown as a fingerprint (its first six characters and "…"); an access token
is shown by its decoded claims. The claims are decoded, not verified: the services verify them.

    >>> fingerprint("tsr_abcdefghijklmnop")
    'tsr_ab…'
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import httpx

SHOWN_CLAIMS = ("sub", "sid", "client_id", "aud", "scope", "act", "ver", "kid", "exp")


class UnexpectedOutcomeError(RuntimeError):
    """A step's outcome is not what the platform promises; the demo exits non-zero."""


class FeatureUnavailableError(RuntimeError):
    """The feature a step shows has not landed (or cannot be reached from here)."""


def fingerprint(token: str) -> str:
    """Enough of a token to tell two apart, never enough to use one."""
    return f"{token[:6]}…"


def _b64url_json(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def access_token_claims(token: str) -> dict[str, Any]:
    """The JWT's payload plus the header's `kid` (decoded only; the services do the verifying)."""
    header, payload, _signature = token.split(".")
    return {**_b64url_json(payload), "kid": _b64url_json(header).get("kid")}


def describe_claims(claims: Mapping[str, Any], *, now: float | None = None) -> str:
    """`sub=… sid=… aud=orders,billing scope="…" act=orders kid=… exp=in 300 s`."""
    parts: list[str] = []
    for name in SHOWN_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if name == "exp":
            remaining = int(value - (time.time() if now is None else now))
            parts.append(f"exp=in {remaining} s")
        elif name == "aud":
            parts.append("aud=" + ",".join(value if isinstance(value, list) else [value]))
        elif name == "act":
            parts.append(f"act.sub={value.get('sub')}")
        elif name == "scope":
            parts.append(f'scope="{value}"')
        elif name == "kid":
            parts.append(f"kid={str(value)[:10]}…")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def describe_authentication(claims: Mapping[str, Any], *, now: float | None = None) -> str:
    """How the user authenticated, as the token states it (RFC 9470 claims):
    `acr=urn:tessera:acr:mfa amr=pwd,otp,mfa auth_time=3 s ago`."""
    amr = claims.get("amr")
    amr_shown = ",".join(amr) if isinstance(amr, list) else str(amr)
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, int | float):
        ago = int((time.time() if now is None else now) - auth_time)
        when = f"{ago} s ago"
    else:
        when = "absent"
    return f"acr={claims.get('acr')} amr={amr_shown} auth_time={when}"


def client_data(credential: Mapping[str, Any]) -> dict[str, Any]:
    """A WebAuthn answer's `clientDataJSON`, decoded: what the browser says it was asked, by
    which page (`type`, `challenge`, `origin`); the authenticator signs its hash."""
    return _b64url_json(str(credential["response"]["clientDataJSON"]))


def describe_client_data(credential: Mapping[str, Any]) -> str:
    """`type=webauthn.get origin=http://localhost:8000 challenge=Zm9vYm…`."""
    data = client_data(credential)
    return (
        f"type={data.get('type')} origin={data.get('origin')} "
        f"challenge={fingerprint(str(data.get('challenge', '')))}"
    )


def set_cookie_summary(response: httpx.Response) -> list[str]:
    """Each Set-Cookie header with its value replaced by a fingerprint (attributes kept)."""
    lines = []
    for header in response.headers.get_list("set-cookie"):
        name_value, _, attributes = header.partition(";")
        name, _, value = name_value.partition("=")
        shown = fingerprint(value) if value else '""'
        lines.append(f"{name.strip()}={shown};{attributes}")
    return lines


class Narrator:
    """Prints the demo: a numbered header per step, indented details, one outcome line."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.number = 0

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, title: str, why: str) -> None:
        self.number += 1
        self.say()
        self.say(f"── {self.number}. {title} " + "─" * max(3, 60 - len(title)))
        for line in why.splitlines():
            self.say(f"   {line}")

    def detail(self, text: str) -> None:
        self.say(f"     {text}")

    def http(self, response: httpx.Response, note: str = "") -> None:
        request = response.request
        status = f"{response.status_code} {response.reason_phrase}"
        self.detail(f"{request.method} {request.url.path} → {status}{'  ' + note if note else ''}")

    def token(self, label: str, token: str) -> None:
        self.detail(f"{label} {fingerprint(token)} {describe_claims(access_token_claims(token))}")

    def details(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.detail(line)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """Rows as details in aligned columns, under a header row."""
        lines = [list(headers), *(list(row) for row in rows)]
        widths = [max(len(line[index]) for line in lines) for index in range(len(headers))]
        for line in lines:
            cells = zip(line, widths, strict=True)
            self.detail("  ".join(cell.ljust(width) for cell, width in cells).rstrip())

    def ok(self, outcome: str) -> None:
        self.say(f"   ✓ {outcome}")

    def skipped(self, reason: str) -> None:
        self.say(f"   skipped: {reason}")

    def failed(self, reason: str) -> None:
        self.say(f"   ✗ FAILED: {reason}")
