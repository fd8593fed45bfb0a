"""The SPA's mail flows in a real browser against the real platform (EMAIL_VERIFICATION
required, as in `make run`): sign up, open the mailed link, sign in; forget the password, reset
it from the mailed link, sign in with the new one. Mails are read over the inbox's Mailpit API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from tests.browser.conftest import Spa

NEW_PASSWORD = "a whole new horse"


def test_sign_up_verify_by_the_mailed_link_then_sign_in(spa: Spa, page: Page) -> None:
    credentials = spa.sign_up(page)
    expect(page.get_by_role("link", name="Open the development inbox")).to_be_visible()

    spa.open(page, "#/login")  # before the link is opened: the address is not verified
    page.get_by_label("Email").fill(credentials.email)
    page.get_by_label("Password").fill(credentials.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator('[data-state="check-inbox"]')).to_be_visible()

    link = spa.follow_mailed_link(page, credentials.email, "Confirm your email address")

    expect(page.locator('[data-state="verified"]')).to_be_visible()
    assert "token" not in page.url  # the SPA took the token out of the address bar
    assert link.split("?token=")[1] not in page.url
    spa.screenshot(page, "verified")
    spa.login(page, credentials)
    spa.go(page, "account")
    expect(page.get_by_text("verified", exact=True)).to_be_visible()


def test_a_used_verification_link_says_so_and_offers_a_new_one(spa: Spa, page: Page) -> None:
    credentials = spa.sign_up(page)
    link = spa.follow_mailed_link(page, credentials.email, "Confirm your email address")
    expect(page.locator('[data-state="verified"]')).to_be_visible()

    page.goto(link)

    expect(page.locator('[data-state="refused"]')).to_contain_text("invalid or has expired")
    expect(page.get_by_role("button", name="Send a new link")).to_be_visible()


def test_forgot_password_reset_by_the_mailed_link_then_sign_in_with_the_new_one(
    spa: Spa, page: Page
) -> None:
    credentials = spa.register(page)
    spa.go(page, "account")
    page.get_by_role("button", name="Log out", exact=True).click()
    spa.expect_signed_out(page)

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(credentials.email)
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.locator('[data-state="check-inbox"]')).to_be_visible()
    spa.follow_mailed_link(page, credentials.email, "Reset your password")
    assert "token" not in page.url
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat it").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()

    expect(page.locator('[data-screen="login"]')).to_be_visible()
    expect(page.locator("#banner")).to_contain_text("Your password was changed")
    page.get_by_label("Email").fill(credentials.email)
    page.get_by_label("Password").fill(credentials.password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    # the old password is refused, on the form
    expect(page.get_by_role("form", name="Sign in").get_by_role("alert")).to_be_visible()
    spa.login(page, type(credentials)(credentials.email, NEW_PASSWORD))
