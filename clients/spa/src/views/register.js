// The registration screen: creates the account, then signs in with it.

import { api } from "../api.js";
import { login } from "../auth.js";
import { h } from "../dom.js";
import { field, whileBusy } from "./forms.js";

export function renderRegister(container, ctx) {
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "register-title" },
    h("h1", { id: "register-title" }, "Create an account"),
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true }),
    field("Password", {
      type: "password",
      name: "password",
      autocomplete: "new-password",
      required: true,
      minlength: 8,
    }),
    h("button", { type: "submit", className: "primary" }, "Create account"),
    h("p", { className: "muted" }, "Already registered? ", h("a", { href: "#/login" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    const data = new FormData(form);
    const email = String(data.get("email"));
    const password = String(data.get("password"));
    try {
      await whileBusy(form, async () => {
        await api.register(email, password);
        await login(email, password);
      });
      ctx.navigate("#/orders");
    } catch (error) {
      ctx.showError(error);
    }
  });
  container.append(form);
  form.querySelector("input").focus();
}
