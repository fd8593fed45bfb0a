// The "Passkeys" card of `#/account`: the user's passkeys (name, added, last used, "flagged"
// when auth saw one that looks copied), "Add a passkey" and "Remove".
//
// Adding: a name → `POST /v1/users/me/passkeys/options` → the browser's prompt
// (`navigator.credentials.create`) → `POST /v1/users/me/passkeys` with its answer. Adding and
// removing need a sign-in within 5 minutes: auth answers the RFC 9470 challenge, and `api.js`
// shows the step-up dialog and retries, as for every other call.

import { api } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { formatDate } from "../format.js";
import { createPasskey, passkeysSupported, wasCancelled } from "../webauthn.js";
import { field, whileBusy } from "./forms.js";
import { dataTable } from "./table.js";

/** A name to suggest for a passkey made on this device: "Chrome on Linux", say. */
function suggestedName() {
  const agent = navigator.userAgent;
  const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox" : /Chrom(e|ium)\//.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : null;
  const system = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS" : /Mac OS X/.test(agent) ? "macOS" : /Windows/.test(agent) ? "Windows" : /Linux/.test(agent) ? "Linux" : null;
  return [browser, system].filter(Boolean).join(" on ") || "Passkey";
}

export async function passkeysSection(ctx) {
  const section = h("section", { className: "card", "aria-labelledby": "passkeys-title" });
  const supported = passkeysSupported();
  const button = (label, className, click, props = {}) => h("button", { type: "button", className, on: { click }, ...props }, label);

  async function showList() {
    const { items } = await api.listPasskeys();
    const rows = items.map((passkey) => {
      const actions = h("td", { className: "actions" });
      const offerRemove = () =>
        actions.replaceChildren(button("Remove", "secondary", confirmRemove, { "aria-label": `Remove passkey ${passkey.name}` }));
      function confirmRemove() {
        actions.replaceChildren(
          button("Yes, remove", "primary", (event) => remove(event, passkey)),
          button("Keep", "secondary", offerRemove),
        );
      }
      offerRemove();
      return h(
        "tr",
        { dataset: { passkeyId: passkey.id } },
        h("td", {}, passkey.name,
          passkey.synced ? h("span", { className: "badge" }, "synced") : null,
          passkey.flagged ? h("span", { className: "badge status-flagged", title: "This passkey looked copied and no longer signs you in" }, "flagged") : null),
        h("td", {}, formatDate(passkey.created_at)),
        h("td", {}, passkey.last_used_at ? formatDate(passkey.last_used_at) : "never"),
        actions,
      );
    });
    const table = dataTable("Passkeys", ["Name", "Added", "Last used", ""]);
    table.setRows(rows);
    const flagged = items.some((passkey) => passkey.flagged);
    replaceChildren(
      section,
      h("h2", { id: "passkeys-title" }, "Passkeys"),
      h("p", { className: "muted" }, "Sign in with your device's screen lock or a security key instead of your password. A passkey works only on this site, so a look-alike site cannot trick you into using it."),
      items.length ? table.element : h("p", { className: "muted empty" }, "You have no passkeys yet."),
      flagged
        ? h("p", { className: "passkey-warning", role: "note" }, h("strong", {}, "A flagged passkey "),
            "looked copied (its signature counter went backwards), so it can no longer sign you in. Remove it; if you did not expect this, change your password.")
        : null,
      supported
        ? h("p", { className: "actions" }, button("Add a passkey", "primary", showAddForm))
        : h("p", { className: "muted" }, "This browser cannot create passkeys."),
    );
  }

  async function remove(event, passkey) {
    event.currentTarget.disabled = true;
    ctx.clearBanner();
    try {
      await api.removePasskey(passkey.id);
      ctx.showNotice(`Passkey “${passkey.name}” removed.`);
      await showList();
    } catch (error) {
      ctx.showError(error);
      await showList().catch(() => {});
    }
  }

  function showAddForm() {
    ctx.clearBanner();
    const note = h("p", { className: "muted", role: "status", hidden: true });
    const form = h(
      "form",
      { className: "add-passkey", "aria-label": "Add a passkey" },
      field("Passkey name", { name: "name", maxlength: 64, required: true, value: suggestedName(), autocomplete: "off" }),
      h("p", { className: "muted" }, "A name to tell it apart, such as the device it is on."),
      note,
      h("p", { className: "actions" },
        h("button", { type: "submit", className: "primary" }, "Create passkey"),
        button("Cancel", "secondary", () => showList().catch(ctx.showError))),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      ctx.clearBanner();
      note.hidden = true;
      const name = String(new FormData(form).get("name")).trim();
      try {
        const added = await whileBusy(form, async () => {
          const options = await api.passkeyCreationOptions();
          const credential = await createPasskey(options.publicKey);
          return api.addPasskey(options.challenge_id, credential, name);
        });
        ctx.showNotice(`Passkey “${added.name}” added: you can sign in with it now.`);
        await showList();
      } catch (error) {
        if (wasCancelled(error)) {
          note.textContent = "No passkey was created. You can try again.";
          note.hidden = false;
        } else if (error && error.name === "InvalidStateError") {
          note.textContent = "This device already holds a passkey for your account.";
          note.hidden = false;
        } else {
          ctx.showError(error);
        }
      }
    });
    section.querySelector("p.actions").replaceWith(form);
    form.querySelector("input").select();
  }

  await showList();
  return section;
}
