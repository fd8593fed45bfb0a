"""Users of a running platform, made through its public API (for e2e tests and benchmarks)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import httpx
import pyotp

from tessera_dev.inbox import Inbox, mailed_token

VERIFY_SUBJECT = "Confirm your email address"


@dataclass(frozen=True)
class TotpCode:
    """A code to send, which step it is relative to now (-1, 0 or +1), and how long the
    authenticator waited for the clock before it had one auth would take."""

    code: str
    offset: int
    waited_seconds: float = 0.0


class Authenticator:
    """A user's authenticator app in tests and the demo: codes auth accepts now and has not seen.

    auth accepts the code of the 30 s step before, of the current one and of the next, each step
    once and never one before the last used. So `code()` hands out the earliest step still
    unused: the previous one while more than `margin_seconds` of the current step are left (so
    the code is still good when it arrives), else the current, else the next; when all three
    were used it waits for the clock.
    """

    def __init__(self, secret: str, *, margin_seconds: float = 10.0) -> None:
        self.totp = pyotp.TOTP(secret)
        self.margin_seconds = margin_seconds
        self.last_step: int | None = None

    def code(self) -> str:
        return self.next_code().code

    def next_code(self) -> TotpCode:
        interval = self.totp.interval
        now = time.time()
        current = int(now // interval)
        earliest = current - 1 if interval - now % interval > self.margin_seconds else current
        if self.last_step is not None:
            earliest = max(earliest, self.last_step + 1)
        waited = 0.0
        if earliest > current + 1:  # the next step's code is used too: wait for the clock
            waited = (earliest - 1) * interval + 0.5 - now
            time.sleep(waited)
            current = earliest - 1
        self.last_step = earliest
        return TotpCode(self.totp.at(earliest * interval), earliest - current, waited)

    def wrong_code(self) -> str:
        """Six digits that are no code auth would accept now."""
        now = int(time.time()) // self.totp.interval
        accepted = {self.totp.at((now + d) * self.totp.interval) for d in (-1, 0, 1, 2)}
        return next(code for code in ("123456", "654321", "111111") if code not in accepted)


@dataclass(frozen=True)
class Account:
    """A registered, logged-in user: its id (the token's `sub`) and a fresh access token."""

    id: str
    email: str
    password: str = field(repr=False)
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    """The mobile client's refresh token (web keeps it in an HttpOnly cookie instead)."""

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register_and_login(
    auth_base_url: str, *, client_id: str = "web", inbox: Inbox | None = None
) -> Account:
    """POST /v1/users (202), verify the address with the mailed link when `inbox` is given
    (needed unless auth runs with EMAIL_VERIFICATION=optional), then log in (`log_in`)."""
    email = f"user-{secrets.token_hex(6)}@example.org"
    password = f"pw-{secrets.token_urlsafe(12)}"
    with httpx.Client(base_url=auth_base_url, timeout=30) as client:
        registered = client.post("/v1/users", json={"email": email, "password": password})
        if registered.status_code != 202:
            raise RuntimeError(f"register: {registered.status_code} {registered.text}")
        if inbox is not None:
            token = mailed_token(inbox.wait_for(email, subject=VERIFY_SUBJECT))
            verified = client.post("/v1/users/verify-email", json={"token": token})
            if verified.status_code != 204:
                raise RuntimeError(f"verify: {verified.status_code} {verified.text}")
    return log_in(auth_base_url, email, password, client_id=client_id)


def log_in(auth_base_url: str, email: str, password: str, *, client_id: str = "web") -> Account:
    """POST /v1/auth/login: a new session of the user (web: with the CSRF token from
    `GET /v1/auth/csrf`, as the SPA does)."""
    with httpx.Client(base_url=auth_base_url, timeout=30) as client:
        headers: dict[str, str] = {}
        if client_id == "web" and (csrf := client.get("/v1/auth/csrf")).status_code == 200:
            headers["X-CSRF-Token"] = csrf.json()["csrf_token"]
        login = client.post(
            "/v1/auth/login",
            json={"email": email, "password": password, "client_id": client_id},
            headers=headers,
        )
        if login.status_code != 200:
            raise RuntimeError(f"login: {login.status_code} {login.text}")
        body = login.json()
        me = client.get("/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    return Account(
        me.json()["id"], email, password, body["access_token"], body.get("refresh_token")
    )
