"""What the SPA shows while a list loads and when it cannot load, in real Chromium.

The API is made slow or broken for one path with `page.route`: `HeldRequests` holds the list's
request until the test has seen the loading state (no race with a fast server), and
`answer_unavailable` answers 503 problem+json as a service whose database is down. Removing the
route and pressing Retry shows the real answer. Everything else is the real platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import HeldRequests, answer_unavailable

if TYPE_CHECKING:
    from tests.browser.conftest import Spa


def drop_connection(route: Route) -> None:
    """As if the network went away: no answer at all."""
    route.abort("internetdisconnected")


def test_each_list_says_it_is_loading_until_its_answer_arrives(spa: Spa, page: Page) -> None:
    spa.register(page)
    spa.place_order(page, "LOADING-1", 1, "2.00")  # a user with an order and an invoice

    # orders last: the orders screen is open now, and a link to it would not render it again
    for screen in ("invoices", "sessions", "orders"):
        held = HeldRequests(page, f"/v1/{screen}")
        spa.go(page, screen)
        shown = page.locator(f'[data-screen="{screen}"]')
        expect(shown.get_by_role("status")).to_have_text(f"Loading your {screen}…")
        expect(shown.locator('[aria-busy="true"]')).to_have_count(1)
        expect(page.get_by_role("table", name=screen.capitalize())).to_have_count(0)
        expect(shown).not_to_contain_text("No orders yet.")
        expect(shown).not_to_contain_text("No invoices yet")
        if screen == "orders":
            expect(shown.get_by_role("button", name="Place order")).to_be_enabled()

        held.release()

        expect(page.get_by_role("table", name=screen.capitalize())).to_be_visible()
        expect(shown.get_by_role("status")).to_have_count(0)
        expect(shown.locator("[aria-busy]")).to_have_count(0)
    expect(page.get_by_role("table", name="Orders")).to_contain_text("LOADING-1")


def test_a_user_without_orders_sees_no_orders_yet_only_once_the_list_is_here(
    spa: Spa, page: Page
) -> None:
    spa.register(page)
    spa.go(page, "invoices")
    held = HeldRequests(page, "/v1/orders")
    spa.go(page, "orders")
    orders = page.locator('[data-screen="orders"]')
    expect(orders.get_by_role("status")).to_have_text("Loading your orders…")
    expect(orders).not_to_contain_text("No orders yet.")

    held.release()

    expect(orders).to_contain_text("No orders yet.")
    expect(page.get_by_role("table", name="Orders")).to_have_count(0)


def test_a_screen_that_cannot_load_keeps_the_page_and_retry_loads_it(spa: Spa, page: Page) -> None:
    spa.register(page)
    spa.place_order(page, "RETRY-1", 1, "3.00")

    # a 503: the failure stays in the card; the header, the navigation and the heading stay
    page.route("**/v1/invoices", answer_unavailable)
    spa.go(page, "invoices")
    failure = page.locator('[data-screen="invoices"] [data-state="failed"]')
    expect(failure).to_contain_text("Could not load your invoices.")
    expect(failure).to_contain_text("The database is unavailable just now")
    expect(failure).to_have_attribute("role", "alert")
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    expect(page.get_by_role("navigation")).to_be_visible()
    expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    spa.screenshot(page, "invoices-unavailable")
    page.unroute("**/v1/invoices", answer_unavailable)
    failure.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("table", name="Invoices")).to_contain_text("3.00")
    expect(failure).to_have_count(0)

    # no answer at all: the orders list says so, and the order form above it still works
    page.route("**/v1/orders", drop_connection)
    spa.go(page, "orders")
    failure = page.locator('[data-screen="orders"] [data-state="failed"]')
    expect(failure).to_contain_text("Could not load your orders.")
    expect(failure).to_contain_text("cannot be reached")
    expect(page.get_by_role("heading", name="New order")).to_be_visible()
    page.unroute("**/v1/orders", drop_connection)
    failure.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("table", name="Orders")).to_contain_text("RETRY-1")

    # the account page, whose three cards load together
    page.route("**/v1/users/me/mfa", answer_unavailable)
    spa.go(page, "account")
    failure = page.locator('[data-screen="account"] [data-state="failed"]')
    expect(failure).to_contain_text("Could not load your account.")
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    page.unroute("**/v1/users/me/mfa", answer_unavailable)
    failure.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    expect(failure).to_have_count(0)
