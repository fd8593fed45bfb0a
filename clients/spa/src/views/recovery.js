// Account recovery: `#/forgot` asks for a reset link, `#/reset?token=…` (the mailed link) sets
// a new password. Asking answers the same whether the address has an account; a reset signs
// out every session, this browser's included.

import { api } from "../api.js";
import { SignOutReason, isSignedIn, sessionEnded } from "../auth.js";
import { h } from "../dom.js";
import { InvalidFields, field, onSubmit } from "./forms.js";
import { checkYourInbox } from "./inbox.js";

export function renderForgotPassword(container, ctx) {
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "forgot-title" },
    h("h1", { id: "forgot-title" }, "Forgot your password?"),
    h("p", { className: "muted" }, "We will mail you a link to choose a new one (it works once, for 30 minutes)."),
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true }),
    h("button", { type: "submit", className: "primary" }, "Send the reset link"),
    h("p", { className: "muted" }, h("a", { href: "#/login" }, "Back to sign in")),
  );
  onSubmit(form, ctx, async (data) => {
    const email = String(data.get("email"));
    await api.requestPasswordReset(email);
    container.replaceChildren(checkYourInbox(ctx, { email, what: "a link to choose a new password." }));
  });
  container.append(form);
  form.querySelector("input").focus();
}

/** The reset screen without a link it can use: none in the address, or one auth refused. */
function refusedLink(title, reason = null) {
  return h(
    "section",
    { className: "card narrow", dataset: { state: "refused" } },
    h("h1", {}, title),
    reason ? h("p", {}, reason) : null,
    h("p", {}, h("a", { href: "#/forgot" }, "Ask for a new reset link")),
  );
}

export function renderResetPassword(container, ctx) {
  const token = ctx.takeParam("token");
  if (!token) {
    container.append(refusedLink("This page needs the link from the mail"));
    return;
  }
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "reset-title" },
    h("h1", { id: "reset-title" }, "Choose a new password"),
    field("New password", { type: "password", name: "new_password", autocomplete: "new-password", required: true, minlength: 8 }),
    field("Repeat it", { type: "password", name: "repeat", autocomplete: "new-password", required: true }),
    h("button", { type: "submit", className: "primary" }, "Set the new password"),
  );
  onSubmit(form, ctx, async (data) => {
    const password = String(data.get("new_password"));
    if (password !== String(data.get("repeat"))) throw new InvalidFields([{ field: "repeat", message: "The two passwords differ." }]);
    try {
      await api.confirmPasswordReset(token, password);
    } catch (error) {
      if (error.status !== 400) throw error;
      // used, expired or made stale by a newer link: this page can do nothing more with it
      container.replaceChildren(refusedLink("This link cannot be used", error.detail || error.message));
      return;
    }
    const notice = "Your password was changed and every session signed out. Sign in with the new password.";
    if (isSignedIn()) sessionEnded(SignOutReason.RESET); // the reset ended this session too
    ctx.navigate("#/login", notice);
  });
  container.append(form);
  form.querySelector("input").focus();
}
