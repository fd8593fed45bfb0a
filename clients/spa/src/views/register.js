// The registration screen: asks for an account, then says to open the mailed link.
//
// The answer is the same whether the address was new or already had an account (the mail tells
// its owner which), so this screen never says "taken": it says "check your inbox". An address
// auth refuses (422: a special-use domain such as .test, say) is said under the Email field.

import { api } from "../api.js";
import { h } from "../dom.js";
import { field, onSubmit } from "./forms.js";
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
    h("p", { className: "muted hint" }, "At least 8 characters."),
    h("button", { type: "submit", className: "primary" }, "Create account"),
    h("p", { className: "muted" }, "Already registered? ", h("a", { href: "#/login" }, "Sign in")),
  );
  onSubmit(form, ctx, async (data) => {
    const email = String(data.get("email"));
    await api.register(email, String(data.get("password")));
    container.replaceChildren(
      checkYourInbox(ctx, {
        email,
        what: "a link to verify your address. Open it, then sign in.",
        resend: () => api.resendVerification(email),
      }),
    );
  });
  container.append(form);
  form.querySelector("input").focus();
}
