"""Real-browser harness for the SPA: the platform behind the dev gateway, and headless Chromium.

The platform runs once for the browser tests (SQLite; the machine is small) with a 3-second
access-token lifetime and zero leeway everywhere, so a test can wait past a token's expiry and
watch the SPA refresh it silently. The dev gateway serves `clients/spa` as it is (no build).

Chromium is Debian's (`/usr/bin/chromium`; Playwright cannot download its own browser here),
installed with apt when missing. `AttackerSite` is another loopback origin for the CSRF and CORS
tests: a page the user might visit that is not the SPA. `HeldRequests` and `answer_unavailable`
shape one API path's answers with `page.route` (held until the test lets go; a 503 problem+json),
for the SPA's loading and failure states.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Response,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)
from tessera_dev.harness import RunningPlatform, free_port_plan, free_ports
from tessera_dev.inbox import Inbox
from tessera_dev.platform import BULK_USERS_AUTH_SETTINGS, describe_platform, sqlite_database_urls

REPO = Path(__file__).resolve().parents[2]
SPA_DIR = REPO / "clients" / "spa"
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
UPDATE_SCREENSHOTS = "TESSERA_UPDATE_SCREENSHOTS"
"""Set (by `make screenshots`) to write the screenshots into docs/; otherwise they go to the
test run's temporary directory, so `make test` never changes a tracked file."""
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ACCESS_TOKEN_TTL_SECONDS = 3
VIEWPORT: ViewportSize = {"width": 1100, "height": 720}
PHONE_VIEWPORT: ViewportSize = {"width": 390, "height": 844}
"""A phone's screen (CSS pixels): the SPA must fit it with nothing running off the side."""


REFUND_MAX_AGE_SECONDS = 4
"""A refund needs a sign-in this recent (RFC 9470 step-up): short, so a test can outwait it."""


def _browser_test_settings() -> dict[str, dict[str, str]]:
    short_lived = {"TOKEN_LEEWAY_SECONDS": "0"}
    refunds = {"REFUND_MAX_AGE_SECONDS": str(REFUND_MAX_AGE_SECONDS)}
    return {
        "auth": {
            **short_lived,
            "ACCESS_TOKEN_TTL_SECONDS": str(ACCESS_TOKEN_TTL_SECONDS),
            "KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "PASSWORD_HASH_MEMORY_KIB": "8192",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_PARALLELISM": "1",
            **BULK_USERS_AUTH_SETTINGS,
            # as in `make run`: the SPA signs a user up through the mailed link
            "EMAIL_VERIFICATION": "required",
        },
        "orders": short_lived | refunds,
        "billing": short_lived | refunds,
    }


@pytest.fixture(scope="session")
def spa_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    workdir = tmp_path_factory.mktemp("spa-platform")
    (workdir / "var").mkdir()
    plan = describe_platform(
        ports=free_port_plan(),
        database_urls=sqlite_database_urls(workdir / "var"),
        extra_settings=_browser_test_settings(),
    )
    gateway_settings = {**plan.gateway.settings, "GATEWAY_SPA_DIR": str(SPA_DIR)}
    plan = replace(plan, gateway=replace(plan.gateway, settings=gateway_settings))
    with RunningPlatform.start(plan, log_dir=workdir / "logs", gateway=True) as running:
        yield running


@pytest.fixture(scope="session")
def spa_url(spa_platform: RunningPlatform) -> str:
    """The SPA's origin, the platform's issuer: http://localhost:<gateway port> (the API is on
    the same origin, and the links auth mails point here)."""
    return spa_platform.plan.issuer


def _install_chromium() -> None:
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    if subprocess.run(install, check=False, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=600)
        subprocess.run(install, check=True, capture_output=True, timeout=900)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if shutil.which("apt-get") is None:
            pytest.fail("/usr/bin/chromium is missing and apt-get is not available to install it")
        _install_chromium()
    return CHROMIUM


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope, not session: Playwright's sync API runs an event loop in this thread while it
    # is open, so a session-wide driver would break every later test that calls asyncio.run().
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: Path) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One browser profile (one cookie jar): the tabs of one user on one device."""
    context = browser.new_context(viewport=VIEWPORT)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def browser_context_factory(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Makes more browser profiles in one test: the same user's other devices
    (`make(viewport=PHONE_VIEWPORT)` for a phone's screen)."""
    made: list[BrowserContext] = []

    def make(viewport: ViewportSize = VIEWPORT) -> BrowserContext:
        made.append(browser.new_context(viewport=viewport))
        return made[-1]

    yield make
    for context in made:
        context.close()


@dataclass(frozen=True)
class AttackerSite:
    """A page on another origin (`http://<host>:<port>/`) with nothing on it but what tests run."""

    origin: str


class _BlankPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Somewhere else</title><h1>Not the SPA</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read the browser's view, not this server's log."""


@pytest.fixture(scope="session")
def attacker_server() -> Iterator[int]:
    port = free_ports(1)[0]
    server = ThreadingHTTPServer(("127.0.0.1", port), _BlankPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()
    thread.join(5)


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@dataclass(frozen=True)
class Spa:
    """Drives the SPA the way a person does: through its screens, by label and role.

    Waits use `<body data-auth>` and `data-screen`, which the SPA sets for styling and tests.
    """

    url: str
    screenshot_dir: Path
    inbox: Inbox

    def open(self, page: Page, route: str = "") -> None:
        page.goto(f"{self.url}/{route}")
        expect(page.locator("body")).to_have_attribute("data-ready", "true")

    def register(self, page: Page) -> Credentials:
        """Opens the SPA, signs up, opens the mailed link, signs in: ends on the orders screen."""
        credentials = self.sign_up(page)
        self.follow_mailed_link(page, credentials.email, "Confirm your email address")
        expect(page.locator('[data-state="verified"]')).to_be_visible()
        self.login(page, credentials)
        return credentials

    def sign_up(self, page: Page) -> Credentials:
        """Creates an account and ends on "check your inbox"."""
        credentials = Credentials(
            f"spa-{secrets.token_hex(5)}@example.org", f"pw-{secrets.token_urlsafe(12)}"
        )
        self.open(page, "#/register")
        page.get_by_label("Email").fill(credentials.email)
        page.get_by_label("Password").fill(credentials.password)
        page.get_by_role("button", name="Create account").click()
        expect(page.locator('[data-state="check-inbox"]')).to_be_visible()
        return credentials

    def follow_mailed_link(self, page: Page, email: str, subject: str) -> str:
        """Opens the link of the newest mail to `email` about `subject`, as a person clicks
        it; the link's URL."""
        mail = self.inbox.wait_for(email, subject=subject)
        words = str(mail["Text"]).split()
        link = next(word for word in words if word.startswith(self.url + "/#/"))
        page.goto(link)
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        return link

    def login(self, page: Page, credentials: Credentials) -> None:
        self.submit_password(page, credentials)
        self.expect_screen(page, "orders")

    def submit_password(self, page: Page, credentials: Credentials) -> None:
        """The first step of signing in: the address and the password, submitted."""
        self.open(page, "#/login")
        page.get_by_label("Email").fill(credentials.email)
        page.get_by_label("Password").fill(credentials.password)
        page.get_by_role("button", name="Sign in", exact=True).click()

    def log_out(self, page: Page) -> None:
        page.get_by_role("button", name="Log out", exact=True).click()
        self.expect_signed_out(page)

    def place_order(self, page: Page, sku: str, quantity: int, unit_price: str) -> None:
        """Places a one-item order in EUR and waits for it in the list."""
        form = page.locator("form", has=page.get_by_role("heading", name="New order"))
        form.get_by_label("SKU").fill(sku)
        form.get_by_label("Quantity").fill(str(quantity))
        form.get_by_label("Unit price").fill(unit_price)
        form.get_by_role("button", name="Place order").click()
        expect(page.get_by_role("table", name="Orders")).to_contain_text(sku)

    def go(self, page: Page, screen: str) -> None:
        """Follows the navigation link to `screen` (orders, invoices, sessions)."""
        page.get_by_role("navigation").get_by_role("link", name=screen.capitalize()).click()
        self.expect_screen(page, screen)

    def expect_screen(self, page: Page, screen: str) -> None:
        expect(page.locator(f'[data-screen="{screen}"]')).to_be_visible()
        if screen not in ("login", "register"):
            expect(page.locator("body")).to_have_attribute("data-auth", "signed-in")

    def expect_signed_out(self, page: Page) -> None:
        expect(page.locator("body")).to_have_attribute("data-auth", "signed-out")
        expect(page.locator('[data-screen="login"]')).to_be_visible()

    def screenshot(self, page: Page, name: str) -> None:
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=self.screenshot_dir / f"{name}.png", full_page=True)


@pytest.fixture(scope="session")
def spa(
    spa_url: str, spa_platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Spa:
    update_docs = os.environ.get(UPDATE_SCREENSHOTS) == "1"
    screens = DOCS_SCREENSHOTS if update_docs else tmp_path_factory.mktemp("screens")
    return Spa(spa_url, screens, Inbox(spa_platform.plan.mail.inbox_url))


class ApiTraffic:
    """The API responses one page saw, in order, as (method, path, status)."""

    def __init__(self, page: Page) -> None:
        self.seen: list[tuple[str, str, int]] = []
        page.on("response", self._record)

    def _record(self, response: Response) -> None:
        path = "/" + response.url.split("/", 3)[3].split("?")[0]
        if path.startswith(("/v1/", "/.well-known/")):
            self.seen.append((response.request.method, path, response.status))

    def clear(self) -> None:
        self.seen.clear()

    def refreshes(self) -> list[int]:
        """Statuses of the refresh calls (POST /v1/auth/token)."""
        return [status for method, path, status in self.seen if path == "/v1/auth/token"]


@pytest.fixture
def watch_api() -> Callable[[Page], ApiTraffic]:
    """watch_api(page) starts recording the API responses that page sees."""
    return ApiTraffic


@pytest.fixture(scope="session")
def outlive_access_tokens() -> Callable[[], None]:
    """Waits until every access token issued before the call has expired (exp is in seconds)."""

    def wait() -> None:
        time.sleep(ACCESS_TOKEN_TTL_SECONDS + 1.5)

    return wait


class HeldRequests:
    """Holds a page's requests to one API path (one method) until the test lets them go, so a
    screen's loading state can be seen for as long as the test needs; every other request goes
    on as usual.

        held = HeldRequests(page, "/v1/orders")
        ...  # the screen asks; assert what it shows while it waits
        held.release()
    """

    def __init__(self, page: Page, path: str, method: str = "GET") -> None:
        self.page = page
        self.pattern = f"**{path}"
        self.method = method
        self.held: list[Route] = []
        page.route(self.pattern, self._hold)

    def _hold(self, route: Route) -> None:
        if route.request.method == self.method:
            self.held.append(route)
        else:
            route.fallback()

    def release(self, timeout_seconds: float = 30) -> None:
        """Waits until a request is held, then sends every held one on to the server and stops
        holding. The sync API hands the test a route only while it waits on the page, hence
        `wait_for_timeout` between looks: a wait for a condition, with a deadline."""
        deadline = time.monotonic() + timeout_seconds
        while not self.held:
            assert time.monotonic() < deadline, f"no {self.method} {self.pattern} was made"
            self.page.wait_for_timeout(50)
        for route in self.held:
            route.continue_()
        self.page.unroute(self.pattern, self._hold)


def answer_unavailable(route: Route) -> None:
    """A route handler answering as a service whose database is down: 503 problem+json with
    Retry-After (tessera.http.problems)."""
    problem = {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "The database is unavailable just now; retry shortly",
    }
    route.fulfill(
        status=503,
        headers={"Retry-After": "1"},
        content_type="application/problem+json",
        body=json.dumps(problem),
    )
