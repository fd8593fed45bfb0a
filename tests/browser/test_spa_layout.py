"""The SPA on a phone's screen, in real Chromium: at 390 px (and down to 360 px) nothing runs off
the side. The header takes two rows, the navigation fits, and every table stacks its rows inside
its card (app.css; views/table.js labels each cell with its column).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from playwright.sync_api import BrowserContext, Page, ViewportSize, expect

from tests.browser.conftest import PHONE_VIEWPORT

if TYPE_CHECKING:
    from tests.browser.conftest import Spa

SMALL_PHONE: ViewportSize = {"width": 360, "height": 740}

WHAT_RUNS_OFF = """() => {
  const width = window.innerWidth;
  const shown = (el) => el.getClientRects().length > 0 && el.getBoundingClientRect().width > 1;
  const off = (box, left, right) => box.left < left - 0.5 || box.right > right + 0.5;
  const name = (el) => `${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"`;
  const problems = [];
  const page = document.scrollingElement;
  if (page.scrollWidth > width) problems.push(`the page is ${page.scrollWidth} px wide`);
  for (const el of document.querySelectorAll("header *, #banner, main *")) {
    if (el.closest("thead")) continue; // clipped to 1 px on a phone: there for screen readers only
    if (shown(el) && off(el.getBoundingClientRect(), 0, width)) problems.push(name(el));
  }
  for (const table of document.querySelectorAll("main table")) {
    const card = table.closest(".card").getBoundingClientRect();
    const box = table.getBoundingClientRect();
    if (off(box, card.left, card.right)) problems.push(`${name(table)} runs out of its card`);
  }
  return problems; // what runs off the screen, or out of its card
}"""


def expect_it_fits(page: Page) -> None:
    expect(page.locator("main [aria-busy]")).to_have_count(0)  # loaded: what is shown is final
    problems = page.evaluate(WHAT_RUNS_OFF)
    assert problems == [], f"at {page.viewport_size}: {problems}"


def test_at_390_px_nothing_runs_off_the_screen_and_tables_stay_in_their_cards(
    spa: Spa, browser_context_factory: Callable[..., BrowserContext]
) -> None:
    page = browser_context_factory(viewport=PHONE_VIEWPORT).new_page()
    spa.open(page)
    spa.expect_signed_out(page)
    expect_it_fits(page)

    spa.register(page)
    spa.place_order(page, "TESSERA-MUG-IN-A-GIFT-BOX-WITH-A-LONG-SKU", 2, "12.50")
    spa.place_order(page, "TESSERA-TEE", 1, "19.99")
    header = page.locator("header")
    for link in ("Orders", "Invoices", "Sessions", "Account"):
        expect(header.get_by_role("link", name=link)).to_be_visible()
    expect(header.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    expect(header.get_by_role("button", name="Log out everywhere")).to_be_visible()

    for viewport in (PHONE_VIEWPORT, SMALL_PHONE):
        page.set_viewport_size(viewport)
        for screen in ("invoices", "sessions", "account", "orders"):
            spa.go(page, screen)
            expect_it_fits(page)
            if viewport == PHONE_VIEWPORT and screen in ("orders", "account"):
                spa.screenshot(page, f"{screen}-390px")
    orders = page.get_by_role("table", name="Orders")  # still a table to assistive technology
    expect(orders.get_by_role("row")).to_have_count(3)  # the (hidden) heading row and two orders
    expect(orders.get_by_role("button", name="Cancel")).to_have_count(2)
