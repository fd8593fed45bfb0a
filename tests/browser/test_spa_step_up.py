"""Step-up in the SPA (RFC 9470): cancelling a paid order after the refund window has passed
(billing's REFUND_MAX_AGE_SECONDS, 4 s here) makes billing demand a recent sign-in; orders
relays the challenge, the SPA asks for the password (not a refresh, which would keep the old
sign-in time), steps the session up and retries: the order is cancelled, refunded once."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from playwright.sync_api import Page, expect

from tests.browser.conftest import REFUND_MAX_AGE_SECONDS

if TYPE_CHECKING:
    from tests.browser.conftest import Spa


def test_cancelling_after_the_refund_window_asks_for_the_password_then_cancels(
    spa: Spa, page: Page
) -> None:
    credentials = spa.register(page)
    spa.place_order(page, "TESSERA-TEE", 1, "19.99")
    orders = page.get_by_role("table", name="Orders")
    expect(orders).to_contain_text("paid")
    time.sleep(REFUND_MAX_AGE_SECONDS + 1)  # let the sign-in grow older than the refund window

    orders.get_by_role("button", name="Cancel").click()

    dialog = page.get_by_role("dialog", name="Confirm it is you")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Password").fill("not the password")
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_contain_text("That is not the password.")
    spa.screenshot(page, "step-up")
    dialog.get_by_label("Password").fill(credentials.password)
    dialog.get_by_role("button", name="Confirm").click()

    expect(dialog).to_be_hidden()
    expect(orders).to_contain_text("cancelled")
    spa.go(page, "invoices")
    expect(page.get_by_role("table", name="Invoices")).to_contain_text("refunded")


def test_cancelling_the_dialog_leaves_the_order_paid(spa: Spa, page: Page) -> None:
    spa.register(page)
    spa.place_order(page, "TESSERA-MUG", 1, "12.50")
    orders = page.get_by_role("table", name="Orders")
    time.sleep(REFUND_MAX_AGE_SECONDS + 1)

    orders.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("dialog", name="Confirm it is you")
    dialog.get_by_role("button", name="Cancel").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_role("alert")).to_contain_text("confirm it is you")
    expect(orders).to_contain_text("paid")
