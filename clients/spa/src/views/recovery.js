// Account recovery: `#/forgot` asks for a reset link, `#/reset?token=…` (the mailed link) sets
// a new password. Asking answers the same whether the address has an account; a reset signs
// out every session, this browser's included.

import { api } from "../api.js";
import { isSignedIn, sessionEnded } from "../auth.js";
import { h } from "../dom.js";
import { field, whileBusy } from "./forms.js";
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
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    const email = String(new FormData(form).get("email"));
    try {
      await whileBusy(form, () => api.requestPasswordReset(email));
      container.replaceChildren(checkYourInbox(ctx, { email, what: "a link to choose a new password." }));
    } catch (error) {
      ctx.showError(error);
    }
  });
  container.append(form);
  form.querySelector("input").focus();
}

export function renderResetPassword(container, ctx) {
  const token = ctx.takeParam("token");
  if (!token) {
    container.append(
      h(
        "section",
        { className: "card narrow", dataset: { state: "refused" } },
        h("h1", {}, "This page needs the link from the mail"),
        h("p", {}, h("a", { href: "#/forgot" }, "Ask for a reset link")),
      ),
    );
    return;
  }
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "reset-title" },
    h("h1", { id: "reset-title" }, "Choose a new password"),
    field("New password", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: 8 }),
    field("Repeat it", { type: "password", name: "repeat", autocomplete: "new-password", required: true, minlength: 8 }),
    h("button", { type: "submit", className: "primary" }, "Set the new password"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    const data = new FormData(form);
    const password = String(data.get("password"));
    if (password !== String(data.get("repeat"))) {
      ctx.showError(new Error("The two passwords differ."));
      return;
    }
    try {
      await whileBusy(form, () => api.confirmPasswordReset(token, password));
    } catch (error) {
      if (error.status === 400) form.querySelector("button").disabled = true; // the link is spent
      ctx.showError(error);
      return;
    }
    const notice = "Your password was changed and every session signed out. Sign in with the new password.";
    if (isSignedIn()) sessionEnded(); // the reset ended this session too
    ctx.navigate("#/login", notice);
  });
  container.append(form);
  form.querySelector("input").focus();
}
