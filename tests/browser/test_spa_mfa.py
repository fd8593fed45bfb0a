"""Two-step verification (TOTP) in the SPA, in real Chromium against the real platform.

The test plays the user's authenticator app with pyotp, from the setup key the account page
shows next to the QR code. Auth accepts a code once, and for the time step before and after now
as well, so `Authenticator.code()` hands out the earliest step it has not used yet (see
`tessera_dev.accounts.Authenticator`): three sign-ins in a row need no wait for the clock.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from playwright.sync_api import Locator, Page, expect
from tessera_dev.accounts import Authenticator

from tests.browser.conftest import REFUND_MAX_AGE_SECONDS

if TYPE_CHECKING:
    from tests.browser.conftest import Spa

WRONG_CODE = "That code is not right."


def two_step_card(page: Page) -> Locator:
    return page.locator("section", has=page.get_by_role("heading", name="Two-step verification"))


def read_recovery_codes(card: Locator) -> list[str]:
    codes = card.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    expect(card).to_contain_text("they are not shown again")
    return [code.strip() for code in codes.all_inner_texts()]


def turn_on_two_step_verification(spa: Spa, page: Page) -> tuple[Authenticator, list[str]]:
    """From a fresh sign-in: account page → Turn on → setup key into the app → its code; the
    app and the recovery codes."""
    spa.go(page, "account")
    card = two_step_card(page)
    expect(card).to_contain_text("Status: off")
    card.get_by_role("button", name="Turn on").click()

    qr = card.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("svg => svg.namespaceURI") == "http://www.w3.org/2000/svg"
    app = Authenticator(card.get_by_label("Setup key").inner_text().replace(" ", ""))
    card.get_by_label("Authenticator code").fill(app.wrong_code())
    card.get_by_role("button", name="Verify and turn on").click()
    expect(card.get_by_role("alert")).to_have_text(WRONG_CODE)
    spa.screenshot(page, "mfa-setup")

    card.get_by_label("Authenticator code").fill(app.code())
    card.get_by_role("button", name="Verify and turn on").click()
    codes = read_recovery_codes(card)
    spa.screenshot(page, "mfa-recovery-codes")
    card.get_by_role("button", name="Done").click()
    expect(card).to_contain_text("Status: on")
    expect(card).to_contain_text("10 recovery codes left")
    return app, codes


def enter_second_factor(page: Page, code: str) -> None:
    form = page.locator("form", has=page.get_by_role("heading", name="Two-step verification"))
    field = form.get_by_label("Recovery code" if "-" in code else "Authenticator code")
    field.fill(code)
    form.get_by_role("button", name="Verify").click()


def test_two_step_sign_in_with_a_code_and_a_refund_confirmed_with_a_code(
    spa: Spa, page: Page
) -> None:
    credentials = spa.register(page)
    app, _ = turn_on_two_step_verification(spa, page)
    spa.log_out(page)

    spa.submit_password(page, credentials)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    enter_second_factor(page, app.wrong_code())
    expect(page.get_by_role("alert")).to_have_text(WRONG_CODE)  # still on the code step
    spa.screenshot(page, "mfa-sign-in")
    enter_second_factor(page, app.code())
    spa.expect_screen(page, "orders")

    spa.place_order(page, "TESSERA-CAP", 1, "15.00")
    orders = page.get_by_role("table", name="Orders")
    expect(orders).to_contain_text("paid")
    time.sleep(REFUND_MAX_AGE_SECONDS + 1)
    orders.get_by_role("button", name="Cancel").click()

    dialog = page.get_by_role("dialog", name="Confirm it is you")
    expect(dialog.get_by_label("Authenticator code")).to_be_visible()
    expect(dialog.get_by_label("Password")).to_have_count(0)  # with MFA on, a code, not a password
    dialog.get_by_label("Authenticator code").fill(app.wrong_code())
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("alert")).to_have_text(WRONG_CODE)
    spa.screenshot(page, "mfa-step-up")
    dialog.get_by_label("Authenticator code").fill(app.code())  # may wait for the next step
    dialog.get_by_role("button", name="Confirm").click()

    expect(dialog).to_be_hidden()
    expect(orders).to_contain_text("cancelled")
    spa.go(page, "invoices")
    expect(page.get_by_role("table", name="Invoices")).to_contain_text("refunded")


def test_a_recovery_code_signs_in_once_then_two_step_verification_is_turned_off(
    spa: Spa, page: Page
) -> None:
    credentials = spa.register(page)
    app, first_codes = turn_on_two_step_verification(spa, page)
    card = two_step_card(page)
    card.get_by_role("button", name="New recovery codes").click()
    codes = read_recovery_codes(card)
    assert not set(codes) & set(first_codes)
    card.get_by_role("button", name="Done").click()
    spa.log_out(page)

    spa.submit_password(page, credentials)
    page.get_by_role("button", name="Use a recovery code instead").click()
    enter_second_factor(page, first_codes[0])  # replaced by the new ones
    expect(page.get_by_role("alert")).to_have_text(WRONG_CODE)
    enter_second_factor(page, codes[0])
    spa.expect_screen(page, "orders")
    spa.log_out(page)

    spa.submit_password(page, credentials)
    page.get_by_role("button", name="Use a recovery code instead").click()
    enter_second_factor(page, codes[0])  # used up
    expect(page.get_by_role("alert")).to_have_text(WRONG_CODE)
    page.get_by_role("button", name="Use the authenticator app instead").click()
    enter_second_factor(page, app.code())
    spa.expect_screen(page, "orders")

    spa.go(page, "account")
    expect(card).to_contain_text("9 recovery codes left")
    card.get_by_role("button", name="Turn off").click()
    card.get_by_role("button", name="Yes, turn it off").click()
    expect(card).to_contain_text("Status: off")
    spa.log_out(page)
    spa.login(page, credentials)  # the password alone again
