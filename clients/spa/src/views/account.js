// `#/account`, the profile: who I am and whether my address is verified, changing my password,
// two-step verification (`two-step.js`) and passkeys (`passkeys.js`).
//
// Changing the password takes the current one (that is the proof it is me: no step-up dialog)
// and ends every other session of mine at once; this one stays signed in (its next call refreshes
// its token, which auth made stale with the others), and auth mails a notice of the change.

import { api } from "../api.js";
import { h } from "../dom.js";
import { formatDate } from "../format.js";
import { InvalidFields, field, onSubmit } from "./forms.js";
import { loadInto } from "./loading.js";
import { passkeysSection } from "./passkeys.js";
import { twoStepSection } from "./two-step.js";

function profileCard(me) {
  return h(
    "section",
    { className: "card", "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, "Profile"),
    h(
      "dl",
      { className: "facts" },
      h("dt", {}, "Email"),
      h("dd", {}, me.email, " ", h("span", { className: `badge ${me.email_verified ? "status-on" : ""}` }, me.email_verified ? "verified" : "not verified")),
      h("dt", {}, "Member since"),
      h("dd", {}, formatDate(me.created_at)),
    ),
  );
}

function passwordForm(ctx, me) {
  const form = h(
    "form",
    { className: "card", "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, "Change password"),
    h("p", { className: "muted" }, "Every other device signed in to your account is signed out; this one stays signed in."),
    h("div", { className: "fields" },
      field("Current password", { type: "password", name: "current_password", autocomplete: "current-password", required: true }),
      field("New password", { type: "password", name: "new_password", autocomplete: "new-password", required: true, minlength: 8 }),
      field("Repeat the new password", { type: "password", name: "repeat", autocomplete: "new-password", required: true })),
    h("p", { className: "actions" }, h("button", { type: "submit", className: "primary" }, "Change password")),
  );
  onSubmit(form, ctx, async (data) => {
    const [current, chosen] = [String(data.get("current_password")), String(data.get("new_password"))];
    if (chosen !== String(data.get("repeat"))) throw new InvalidFields([{ field: "repeat", message: "The two new passwords differ." }]);
    try {
      await api.changePassword(current, chosen);
    } catch (error) {
      if (error.status !== 403) throw error;
      throw new InvalidFields([{ field: "current_password", message: "That is not your current password." }]);
    }
    form.reset();
    ctx.showNotice(`Password changed. Every other device was signed out; this one stays signed in. A notice is on its way to ${me.email}.`);
  });
  return form;
}

export async function renderAccount(container, ctx) {
  const body = h("div", { className: "list" });
  container.append(h("h1", {}, "Account"), body);
  await loadInto(body, {
    what: "your account",
    load: () => Promise.all([api.me(), twoStepSection(ctx), passkeysSection(ctx)]),
    show([me, twoStep, passkeys]) {
      body.append(profileCard(me), passwordForm(ctx, me), twoStep, passkeys);
    },
  });
}
