// `#/verify?token=…`: the link of the verification mail. The token leaves the address bar
// before anything else happens; then auth is asked to use it up.

import { api } from "../api.js";
import { isSignedIn } from "../auth.js";
import { h } from "../dom.js";
import { field, onSubmit } from "./forms.js";
import { checkYourInbox } from "./inbox.js";

export async function renderVerify(container, ctx) {
  const token = ctx.takeParam("token");
  const card = h("section", { className: "card narrow", "aria-labelledby": "verify-title" });
  container.append(card);
  if (!token) return showRefused(card, ctx, "This page needs the link from the mail.");
  card.append(h("h1", { id: "verify-title" }, "Verifying your address…"));
  try {
    await api.verifyEmail(token);
  } catch (error) {
    card.replaceChildren();
    return showRefused(card, ctx, error.detail || error.message);
  }
  card.dataset.state = "verified";
  card.replaceChildren(
    h("h1", { id: "verify-title" }, "Your address is verified"),
    h("p", {}, isSignedIn() ? h("a", { href: "#/orders" }, "Continue") : h("a", { href: "#/login" }, "Sign in")),
  );
}

function showRefused(card, ctx, reason) {
  card.dataset.state = "refused";
  const form = h(
    "form",
    { "aria-labelledby": "resend-title" },
    h("h2", { id: "resend-title" }, "Get a new link"),
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true }),
    h("button", { type: "submit", className: "primary" }, "Send a new link"),
  );
  onSubmit(form, ctx, async (data) => {
    const email = String(data.get("email"));
    await api.resendVerification(email);
    card.replaceWith(checkYourInbox(ctx, { email, what: "a new link to verify your address." }));
  });
  card.append(h("h1", { id: "verify-title" }, "This link cannot be used"), h("p", {}, reason), form);
}
