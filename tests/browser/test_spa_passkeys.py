"""Passkeys in the SPA, in real Chromium against the real platform.

Chromium's virtual authenticator (DevTools protocol, `WebAuthn` domain) plays the user's
device: a platform authenticator with resident keys and user verification that says yes by
itself. It belongs to the tab, so a test keeps to one page. The SPA is at the issuer's origin
(http://localhost:<port>), whose host is auth's RP ID, and localhost is a secure context.

The passkey is made through the SPA's by-hand conversion (the JSON helpers of newer browsers
hidden by an init script) and used through the browser's own (`parseRequestOptionsFromJSON`,
`toJSON()`), so both paths meet auth's verification.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from playwright.sync_api import CDPSession, Locator, Page, expect

from tests.browser.conftest import REFUND_MAX_AGE_SECONDS

if TYPE_CHECKING:
    from tests.browser.conftest import Spa

PASSKEY_ACR = "urn:tessera:acr:phr"

HIDE_WEBAUTHN_JSON = """
if (sessionStorage.getItem("test:webauthn-by-hand") === "1") {
  delete PublicKeyCredential.parseCreationOptionsFromJSON;
  delete PublicKeyCredential.parseRequestOptionsFromJSON;
  delete PublicKeyCredential.prototype.toJSON;
}
"""


def add_virtual_authenticator(page: Page) -> tuple[CDPSession, str]:
    """A device with a platform authenticator for this tab; the session and its id."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    answer = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, str(answer["authenticatorId"])


def passkeys_card(page: Page) -> Locator:
    return page.locator("section", has=page.get_by_role("heading", name="Passkeys"))


def add_passkey(page: Page, name: str) -> None:
    """From a recent sign-in: account page → Add a passkey → its name → the browser's prompt."""
    card = passkeys_card(page)
    card.get_by_role("button", name="Add a passkey").click()
    card.get_by_label("Passkey name").fill(name)
    card.get_by_role("button", name="Create passkey").click()  # signed in just now: no dialog
    expect(card.get_by_role("table", name="Passkeys")).to_contain_text(name)


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_add_a_passkey_sign_in_with_it_alone_then_remove_it(spa: Spa, page: Page) -> None:
    page.add_init_script(HIDE_WEBAUTHN_JSON)
    cdp, authenticator = add_virtual_authenticator(page)
    spa.register(page)
    page.evaluate("sessionStorage.setItem('test:webauthn-by-hand', '1')")
    page.reload()  # the session comes back from the refresh cookie
    spa.expect_screen(page, "orders")
    assert page.evaluate("typeof PublicKeyCredential.prototype.toJSON") == "undefined"

    spa.go(page, "account")
    card = passkeys_card(page)
    expect(card).to_contain_text("You have no passkeys yet.")
    add_passkey(page, "Work laptop")
    table = card.get_by_role("table", name="Passkeys")
    expect(table).to_contain_text("never")
    expect(page.locator("#banner")).to_contain_text("Passkey “Work laptop” added")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert [credential["isResidentCredential"] for credential in stored] == [True]
    spa.screenshot(page, "passkeys")

    page.evaluate("sessionStorage.removeItem('test:webauthn-by-hand')")
    spa.log_out(page)
    page.reload()  # the browser's own JSON helpers from here on
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.evaluate("typeof PublicKeyCredential.prototype.toJSON") == "function"

    # The user says no at the browser's prompt: a calm word, still signed out, no error banner.
    say_no = {"authenticatorId": authenticator, "isUserVerified": False}
    cdp.send("WebAuthn.setUserVerified", say_no)
    page.get_by_role("button", name="Sign in with a passkey").click()
    sign_in = page.locator("form", has=page.get_by_role("heading", name="Sign in"))
    expect(sign_in.get_by_role("status")).to_contain_text("No passkey was used.")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("body")).to_have_attribute("data-auth", "signed-out")
    spa.screenshot(page, "passkey-sign-in")
    cdp.send("WebAuthn.setUserVerified", say_no | {"isUserVerified": True})

    with page.expect_response("**/v1/auth/passkey/login") as signed_in:
        page.get_by_role("button", name="Sign in with a passkey").click()  # no address, no password
    assert signed_in.value.status == 200
    claims = jwt_claims(signed_in.value.json()["access_token"])
    assert claims["acr"] == PASSKEY_ACR
    assert "mfa" in claims["amr"]
    spa.expect_screen(page, "orders")

    spa.go(page, "account")
    expect(table).to_contain_text("Work laptop")
    expect(table).not_to_contain_text("never")  # last used: just now
    table.get_by_role("button", name="Remove passkey Work laptop").click()
    table.get_by_role("button", name="Yes, remove").click()  # the sign-in is recent: no dialog
    expect(card).to_contain_text("You have no passkeys yet.")
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_a_refund_after_the_window_is_confirmed_with_the_passkey(spa: Spa, page: Page) -> None:
    add_virtual_authenticator(page)
    spa.register(page)  # signed in with the password
    spa.go(page, "account")
    add_passkey(page, "Phone")
    spa.go(page, "orders")
    spa.place_order(page, "TESSERA-PIN", 1, "4.50")
    orders = page.get_by_role("table", name="Orders")
    expect(orders).to_contain_text("paid")
    time.sleep(REFUND_MAX_AGE_SECONDS + 1)  # let the sign-in grow older than the refund window

    orders.get_by_role("button", name="Cancel").click()
    dialog = page.get_by_role("dialog", name="Confirm it is you")
    expect(dialog.get_by_role("button", name="Use your password instead")).to_be_visible()
    expect(dialog.get_by_label("Password")).to_have_count(0)  # the passkey first
    spa.screenshot(page, "passkey-step-up")
    with page.expect_response("**/v1/auth/step-up") as stepped_up:
        dialog.get_by_role("button", name="Use a passkey").click()
    assert jwt_claims(stepped_up.value.json()["access_token"])["acr"] == PASSKEY_ACR

    expect(dialog).to_be_hidden()
    expect(orders).to_contain_text("cancelled")
    spa.go(page, "invoices")
    expect(page.get_by_role("table", name="Invoices")).to_contain_text("refunded")
