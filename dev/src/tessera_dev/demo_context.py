"""What every demo step shares: the platform it talks to, the user, the tokens held so far.

The demo plays two clients of one user: the mobile app (refresh token in the response body,
access token as a bearer header) and the browser (refresh token in an HttpOnly cookie, CSRF
header), each an `httpx.Client` of its own so the browser's cookies never reach the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from tessera_dev.accounts import Authenticator
from tessera_dev.demo_narration import FeatureUnavailableError, Narrator, UnexpectedOutcomeError
from tessera_dev.software_passkey import SoftwarePasskey

REFRESH_FORM = {"grant_type": "refresh_token"}
TOTP_BOUNDARY_MARGIN_SECONDS = 2.0
"""The demo sends a code at once: the previous step's is good until this close to its end."""


@dataclass(frozen=True)
class DemoTarget:
    """The platform under demonstration, and what the demo knows about it beyond its URL."""

    base_url: str
    """The gateway: every client call goes through it, as a real client's would."""
    grace_seconds: float
    """auth's REFRESH_GRACE_SECONDS (the demo waits just past it to show theft detection)."""
    auth_environment: Mapping[str, str] | None = None
    """auth's settings, to run `python -m auth_service keys rotate` on its database (or None)."""
    orders_client_secret: str | None = field(default=None, repr=False)
    """orders' service-client secret, to show the token orders exchanges for billing (or None)."""
    inbox_url: str = "http://127.0.0.1:8025"
    """The platform's inbox (Mailpit's API: make run's catcher, or compose's Mailpit)."""
    propagation_bound: float = 5.0
    """A revocation slower than this fails the demo (the target is well under a second)."""
    refund_max_age_seconds: float = 300.0
    """orders' and billing's REFUND_MAX_AGE_SECONDS: how recent a sign-in a refund needs (the
    demo waits past it to show the step-up; too long a window and that step is skipped)."""
    web_origin: str | None = None
    """Where the SPA is served, the origin a browser puts in a passkey's signed answer: the
    platform's issuer (`http://localhost:<gateway port>`); None: the base URL's origin."""

    @property
    def browser_origin(self) -> str:
        """`web_origin`, else the base URL's scheme, host and port."""
        if self.web_origin:
            return self.web_origin.rstrip("/")
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"


WHOSE_CODE = {
    -1: "the previous 30 s step's code, still accepted (±1 step)",
    0: "the current 30 s step's code",
    1: "the next 30 s step's code: each step's code works once (±1 step)",
}


def narrated_code(authenticator: Authenticator) -> tuple[str, str]:
    """A code auth has not seen yet, and whose it is (for the narration)."""
    found = authenticator.next_code()
    whose = WHOSE_CODE[found.offset]
    if found.waited_seconds:
        whose += f"; waited {found.waited_seconds:.0f} s: every code auth accepts was used"
    return found.code, whose


@dataclass
class DemoState:
    """The user and what each of its clients holds (never printed whole)."""

    email: str = ""
    password: str = field(default="", repr=False)
    user_id: str = ""
    verified: bool = False
    mobile_access: str = field(default="", repr=False)
    mobile_refresh: str = field(default="", repr=False)
    web_access: str = field(default="", repr=False)
    order: dict[str, Any] = field(default_factory=dict)
    authenticator: Authenticator | None = field(default=None, repr=False)
    """The user's authenticator app, once two-step verification is on."""
    mfa_access: str = field(default="", repr=False)
    """The access token of the session signed in with password and code."""
    passkey: SoftwarePasskey | None = field(default=None, repr=False)
    """The user's passkey, on the software authenticator standing in for the browser's."""


class DemoContext:
    """One demo run: the narrator, the two clients, the state the steps build up."""

    def __init__(self, target: DemoTarget, narrator: Narrator) -> None:
        self.target = target
        self.say = narrator
        self.state = DemoState()
        self.mobile = httpx.Client(
            base_url=target.base_url,
            timeout=30,
            headers={"User-Agent": "TesseraMobile/1.0 (tessera-demo)"},
        )
        self.browser = httpx.Client(
            base_url=target.base_url,
            timeout=30,
            headers={"User-Agent": "Mozilla/5.0 (tessera-demo browser)"},
        )

    def close(self) -> None:
        self.mobile.close()
        self.browser.close()

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def require(self, value: str, what: str) -> str:
        """A step that builds on an earlier one is skipped when that one was."""
        if not value:
            raise FeatureUnavailableError(f"needs {what}, which an earlier step did not get")
        return value

    def csrf_header(self) -> dict[str, str]:
        """The browser echoes its (non-HttpOnly) CSRF cookie in `X-CSRF-Token`."""
        for cookie in self.browser.cookies.jar:
            if cookie.name == "tessera_csrf" and cookie.value:
                return {"X-CSRF-Token": cookie.value}
        return {}

    def refresh_mobile(self, refresh_token: str) -> httpx.Response:
        """`POST /v1/auth/token` as the app does: form-encoded, the refresh token in the body."""
        form = {**REFRESH_FORM, "client_id": "mobile", "refresh_token": refresh_token}
        return self.mobile.post("/v1/auth/token", data=form)

    def refresh_web(self) -> httpx.Response:
        """The browser's refresh: the cookie goes by itself, the CSRF token in a header."""
        form = {**REFRESH_FORM, "client_id": "web"}
        return self.browser.post("/v1/auth/token", data=form, headers=self.csrf_header())

    def status_at(self, path: str, token: str) -> int:
        """What a resource service answers to a bearer token (orders: /v1/orders, billing:
        /v1/invoices), through the gateway."""
        return self.mobile.get(path, headers=self.bearer(token)).status_code


def expect(response: httpx.Response, status: int, feature: str) -> httpx.Response:
    """`response` if it has `status`; a 404 from a route that does not exist yet skips the
    step; anything else fails it."""
    request = response.request
    where = f"{request.method} {request.url.path}"
    if response.status_code == 404 and status != 404 and _route_missing(response):
        raise FeatureUnavailableError(f"{feature} not available (HTTP 404 from {where})")
    if response.status_code != status:
        raise UnexpectedOutcomeError(
            f"{where} answered {response.status_code}, expected {status}: {response.text[:300]}"
        )
    return response


def _route_missing(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return True
    return isinstance(body, dict) and body.get("detail") in ("Not Found", None)


def oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def seconds_until(condition: Callable[[], bool], bound: float, interval: float = 0.02) -> float:
    """Seconds until `condition()` holds, polled; UnexpectedOutcomeError after `bound` s."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > bound:
            raise UnexpectedOutcomeError(f"still not the case after {bound:.0f} s")
        time.sleep(interval)
    return time.monotonic() - started
