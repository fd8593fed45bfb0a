"""Form errors in the SPA, in real Chromium against the real platform: each said under the field
it concerns (the browser's own checks, and the `errors` of the API's 422 problem+json), or at the
top of the form when it is about the whole form; never in the banner far from it.

A field's error is its accessible description (`aria-describedby`) and the field is
`aria-invalid`, so the assertions read what a screen reader would.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from playwright.sync_api import Locator, Page, expect

if TYPE_CHECKING:
    from tests.browser.conftest import Spa


def expect_field_error(field: Locator, text: str | re.Pattern[str]) -> None:
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(text)


def test_sign_up_says_what_is_wrong_under_each_field(spa: Spa, page: Page) -> None:
    spa.open(page, "#/register")
    form = page.get_by_role("form", name="Create an account")
    email, password = form.get_by_label("Email"), form.get_by_label("Password")

    form.get_by_role("button", name="Create account").click()  # nothing filled in
    expect_field_error(email, re.compile("fill out this field", re.IGNORECASE))
    expect_field_error(password, re.compile("fill out this field", re.IGNORECASE))
    expect(email).to_be_focused()

    # the browser's check passes; auth's does not (a special-use domain): 422, `errors` at "email"
    email.fill("someone@example.test")
    expect(email).not_to_have_attribute("aria-invalid", "true")  # typing clears the field's error
    password.fill("long enough password")
    form.get_by_role("button", name="Create account").click()
    expect_field_error(email, re.compile("not a valid email address", re.IGNORECASE))
    expect(password).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#banner")).to_be_hidden()
    spa.screenshot(page, "register-field-error")

    email.fill("someone@example.org")
    form.get_by_role("button", name="Create account").click()
    expect(page.locator('[data-state="check-inbox"]')).to_contain_text("Check your inbox")


def test_a_wrong_password_is_said_on_the_sign_in_form(spa: Spa, page: Page) -> None:
    credentials = spa.register(page)
    spa.log_out(page)

    spa.open(page, "#/login")
    form = page.get_by_role("form", name="Sign in")
    form.get_by_label("Email").fill(credentials.email)
    form.get_by_label("Password").fill("not the password")
    form.get_by_role("button", name="Sign in", exact=True).click()

    expect(form.get_by_role("alert")).to_have_text(re.compile("do not match"))
    expect(page.locator("#banner")).to_be_hidden()
    spa.login(page, credentials)


def test_a_refused_order_is_marked_on_the_item_it_concerns(spa: Spa, page: Page) -> None:
    spa.register(page)
    form = page.get_by_role("form", name="New order")
    form.get_by_role("button", name="Add item").click()
    rows = form.locator(".item-row")
    rows.nth(0).get_by_label("SKU").fill("TESSERA-MUG")
    rows.nth(0).get_by_label("Unit price").fill("12.50")
    rows.nth(1).get_by_label("SKU").fill("TESSERA-TEE")
    rows.nth(1).get_by_label("Unit price").fill("twelve")

    form.get_by_role("button", name="Place order").click()  # the SPA's own check: not an amount
    expect_field_error(rows.nth(1).get_by_label("Unit price"), "Enter an amount like 12.50.")
    expect(rows.nth(0).get_by_label("Unit price")).not_to_have_attribute("aria-invalid", "true")

    # orders' 422: `errors` at items.1.quantity (more than the 1,000 an item may have)
    rows.nth(1).get_by_label("Unit price").fill("19.99")
    rows.nth(1).get_by_label("Quantity").fill("5000")
    form.get_by_role("button", name="Place order").click()
    too_many = re.compile("less than or equal to 1000")
    expect_field_error(rows.nth(1).get_by_label("Quantity"), too_many)
    expect(rows.nth(0).get_by_label("Quantity")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#banner")).to_be_hidden()
    spa.screenshot(page, "order-field-error")

    rows.nth(1).get_by_label("Quantity").fill("2")
    form.get_by_role("button", name="Place order").click()
    orders = page.get_by_role("table", name="Orders")
    expect(orders).to_contain_text("TESSERA-TEE")
    expect(orders).to_contain_text("52.48")
