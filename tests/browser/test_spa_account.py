"""The account (profile) page in real Chromium: who I am, and changing my password.

A password change takes the current password (no step-up dialog) and ends every other session
of the user at once; the device that changed it stays signed in. The other device finds out on
its next call to auth, which checks the token against the user's sessions itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from playwright.sync_api import BrowserContext, expect

if TYPE_CHECKING:
    from tests.browser.conftest import Spa

NEW_PASSWORD = "a brand new horse staple"


def test_changing_the_password_keeps_this_device_and_signs_out_the_others(
    spa: Spa,
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
) -> None:
    laptop = context.new_page()
    credentials = spa.register(laptop)
    phone = browser_context_factory().new_page()
    spa.login(phone, credentials)

    spa.go(laptop, "account")
    profile = laptop.get_by_role("region", name="Profile")
    expect(profile).to_contain_text(credentials.email)
    expect(profile.get_by_text("verified", exact=True)).to_be_visible()
    form = laptop.get_by_role("form", name="Change password")
    current = form.get_by_label("Current password")
    repeat = form.get_by_label("Repeat the new password")
    current.fill("not the password")
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    repeat.fill(NEW_PASSWORD + "!")
    form.get_by_role("button", name="Change password").click()
    expect(repeat).to_have_accessible_description("The two new passwords differ.")

    repeat.fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(current).to_have_accessible_description("That is not your current password.")
    expect(current).to_be_focused()
    expect(laptop.locator("#banner")).to_be_hidden()

    current.fill(credentials.password)
    form.get_by_role("button", name="Change password").click()
    expect(laptop.get_by_role("status")).to_contain_text(
        "Password changed. Every other device was signed out; this one stays signed in."
    )
    expect(current).to_have_value("")
    spa.screenshot(laptop, "account")

    # this device: still signed in (its next call refreshes the token the change made stale)
    spa.go(laptop, "orders")
    expect(laptop.get_by_role("region", name="Your orders")).to_contain_text("No orders yet.")

    # the other device: signed out on its next call, and told why
    spa.go(phone, "account")
    spa.expect_signed_out(phone)
    expect(phone.locator("#banner")).to_contain_text("This device was signed out")

    phone.get_by_label("Email").fill(credentials.email)
    phone.get_by_label("Password").fill(credentials.password)
    phone.get_by_role("button", name="Sign in", exact=True).click()
    expect(phone.get_by_role("form", name="Sign in").get_by_role("alert")).to_be_visible()
    spa.login(phone, type(credentials)(credentials.email, NEW_PASSWORD))
