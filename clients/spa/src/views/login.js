// The sign-in screen.

import { login } from "../auth.js";
import { h } from "../dom.js";
import { field, whileBusy } from "./forms.js";

export function renderLogin(container, ctx) {
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in"),
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true }),
    field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", className: "primary" }, "Sign in"),
    h("p", { className: "muted" }, "No account yet? ", h("a", { href: "#/register" }, "Create one")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    const data = new FormData(form);
    try {
      await whileBusy(form, () => login(String(data.get("email")), String(data.get("password"))));
      ctx.navigate("#/orders");
    } catch (error) {
      ctx.showError(error);
    }
  });
  container.append(form);
  form.querySelector("input").focus();
}
