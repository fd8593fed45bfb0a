// `#/account`: who I am, whether my address is verified, changing my password, two-step
// verification (`two-step.js`) and passkeys (`passkeys.js`).

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate } from "../format.js";
import { field, whileBusy } from "./forms.js";
import { passkeysSection } from "./passkeys.js";
import { twoStepSection } from "./two-step.js";

export async function renderAccount(container, ctx) {
  const me = await api.me();
  const profile = h(
    "section",
    { className: "card", "aria-labelledby": "account-title" },
    h("h1", { id: "account-title" }, "Account"),
    h(
      "dl",
      {},
      h("dt", {}, "Email"),
      h("dd", {}, me.email, " ", h("span", { className: "badge" }, me.email_verified ? "verified" : "not verified")),
      h("dt", {}, "Member since"),
      h("dd", {}, formatDate(me.created_at)),
    ),
  );
  const form = h(
    "form",
    { className: "card", "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, "Change password"),
    h("p", { className: "muted" }, "Every other session is signed out; this one stays."),
    field("Current password", { type: "password", name: "current", autocomplete: "current-password", required: true }),
    field("New password", { type: "password", name: "new", autocomplete: "new-password", required: true, minlength: 8 }),
    h("button", { type: "submit", className: "primary" }, "Change password"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ctx.clearBanner();
    const data = new FormData(form);
    try {
      await whileBusy(form, () => api.changePassword(String(data.get("current")), String(data.get("new"))));
      form.reset();
      ctx.showNotice("Password changed; your other sessions were signed out.");
    } catch (error) {
      ctx.showError(error);
    }
  });
  const [twoStep, passkeys] = await Promise.all([twoStepSection(ctx), passkeysSection(ctx)]);
  container.append(profile, form, twoStep, passkeys);
}
