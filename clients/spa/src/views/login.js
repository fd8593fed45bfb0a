// The sign-in screen. An address not verified yet (403 email-not-verified, said only after the
// password checked out) gets a way to have the link sent again.

import { api } from "../api.js";
import { login } from "../auth.js";
import { h } from "../dom.js";
import { field, whileBusy } from "./forms.js";
import { checkYourInbox } from "./inbox.js";

export function renderLogin(container, ctx) {
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in"),
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true }),
    field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", className: "primary" }, "Sign in"),
    h("p", { className: "muted" }, h("a", { href: "#/forgot" }, "Forgot your password?")),
    h("p", { className: "muted" }, "No account yet? ", h("a", { href: "#/register" }, "Create one")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    const data = new FormData(form);
    const email = String(data.get("email"));
    try {
      await whileBusy(form, () => login(email, String(data.get("password"))));
      ctx.navigate("#/orders");
    } catch (error) {
      if (error.code === "email-not-verified") {
        container.replaceChildren(
          checkYourInbox(ctx, {
            email,
            what: "a link to verify your address when you registered. Open it, then sign in.",
            resend: () => api.resendVerification(email),
          }),
        );
        return;
      }
      ctx.showError(error);
    }
  });
  container.append(form);
  form.querySelector("input").focus();
}
