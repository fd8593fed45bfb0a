"""Each service's `/docs` in a real browser with no internet: every request that is not to the
machine itself is refused, yet Swagger UI renders from the service alone, and "Try it out" sends
the access token given to "Authorize".

The browser platform's access tokens live 3 seconds: a test signs in just before it authorizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, Route, expect
from tessera_dev.accounts import Account, log_in, register_and_login
from tessera_dev.harness import RunningPlatform
from tessera_dev.inbox import Inbox

LOOPBACK = frozenset({"127.0.0.1", "localhost"})
PROTECTED_LISTS = {"auth": "/v1/sessions", "orders": "/v1/orders", "billing": "/v1/invoices"}
"""A protected GET of each service: 401 without a bearer token, 200 with the user's."""


@dataclass
class OfflinePage:
    """A page that can reach nothing but loopback, and what it tried to reach anyway."""

    page: Page
    refused: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def only_loopback(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort("internetdisconnected")

    def note(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # a CSP violation is one
            self.console_errors.append(message.text)


@pytest.fixture
def offline(page: Page) -> Iterator[OfflinePage]:
    offline = OfflinePage(page)
    page.route("**/*", offline.only_loopback)
    page.on("console", offline.note)
    yield offline
    assert offline.refused == [], "the docs tried to reach beyond the machine"
    assert offline.console_errors == []


@pytest.fixture(scope="module")
def reader(spa_platform: RunningPlatform) -> Account:
    """A verified user (mobile client: its token is in the login's answer)."""
    inbox = Inbox(spa_platform.plan.mail.inbox_url)
    return register_and_login(auth_url(spa_platform), client_id="mobile", inbox=inbox)


def auth_url(platform: RunningPlatform) -> str:
    return platform.plan.service("auth").base_url


def open_docs(page: Page, platform: RunningPlatform, service: str) -> None:
    page.goto(f"{platform.plan.service(service).base_url}/docs")
    expect(page.locator(".opblock").first).to_be_visible()


def operation(page: Page, method: str, path: str) -> Locator:
    summary = page.locator(f'.opblock-summary-path[data-path="{path}"]')
    return page.locator(f".opblock-{method.lower()}", has=summary)


def try_it_out(page: Page, method: str, path: str) -> Locator:
    """Opens the operation with "Try it out" on; the operation's block."""
    block = operation(page, method, path)
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    return block


def authorize(page: Page, token: str) -> None:
    """ "Authorize" with a bearer token, as a person pastes one."""
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.get_by_label("Value").fill(token)
    dialog.get_by_role("button", name="Apply credentials").click()  # its "Authorize"
    dialog.get_by_role("button", name="Close").click()


def answered_status(block: Locator) -> Locator:
    """The status of the answer "Execute" got (the server response table, not its header)."""
    return block.locator(".live-responses-table td.response-col_status:not(.col_header)")


def fresh_token(platform: RunningPlatform, account: Account) -> str:
    return log_in(
        auth_url(platform), account.email, account.password, client_id="mobile"
    ).access_token


@pytest.mark.parametrize("service", list(PROTECTED_LISTS))
def test_the_docs_render_with_no_internet(
    offline: OfflinePage, spa_platform: RunningPlatform, service: str
) -> None:
    page = offline.page

    open_docs(page, spa_platform, service)

    expect(operation(page, "GET", PROTECTED_LISTS[service])).to_be_visible()
    expect(page.locator(".auth-wrapper").get_by_role("button", name="Authorize")).to_be_visible()


@pytest.mark.parametrize("service", list(PROTECTED_LISTS))
def test_try_it_out_sends_the_authorized_bearer_token(
    offline: OfflinePage, spa_platform: RunningPlatform, reader: Account, service: str
) -> None:
    page = offline.page
    path = PROTECTED_LISTS[service]
    open_docs(page, spa_platform, service)
    block = try_it_out(page, "GET", path)

    token = fresh_token(spa_platform, reader)
    authorize(page, token)
    with page.expect_request(lambda request: urlsplit(request.url).path == path) as sent:
        block.get_by_role("button", name="Execute").click()

    assert sent.value.headers["authorization"] == f"Bearer {token}"
    expect(answered_status(block)).to_have_text("200")


def test_the_example_order_is_placed_from_the_docs(
    offline: OfflinePage, spa_platform: RunningPlatform, reader: Account
) -> None:
    page = offline.page
    open_docs(page, spa_platform, "orders")
    block = try_it_out(page, "POST", "/v1/orders")
    body = block.locator("textarea.body-param__text")
    expect(body).to_contain_text('"sku": "TESSERA-MUG"')
    expect(body).to_contain_text('"currency": "EUR"')

    authorize(page, fresh_token(spa_platform, reader))
    block.get_by_role("button", name="Execute").click()

    expect(answered_status(block)).to_have_text("201")
