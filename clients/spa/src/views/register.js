// The registration screen: asks for an account, then says to open the mailed link.
//
// The answer is the same whether the address was new or already had an account (the mail tells
// its owner which), so this screen never says "taken": it says "check your inbox".

import { api } from "../api.js";
import { h } from "../dom.js";
import { field, whileBusy } from "./forms.js";
import { checkYourInbox } from "./inbox.js";

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
    try {
      await whileBusy(form, () => api.register(email, String(data.get("password"))));
      container.replaceChildren(
        checkYourInbox(ctx, {
          email,
          what: "a link to verify your address. Open it, then sign in.",
          resend: () => api.resendVerification(email),
        }),
      );
    } catch (error) {
      ctx.showError(error);
    }
  });
  container.append(form);
  form.querySelector("input").focus();
}
