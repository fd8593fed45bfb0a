// The step-up dialog: an operation answered 401 `insufficient_user_authentication` (RFC 9470,
// e.g. a refund needs a sign-in within the last 5 minutes), so the user confirms it is them, the
// session steps up, and the operation is retried once. With two-step verification on, only a
// code counts (authenticator app or recovery code), so the dialog asks for that, not the password.
// A user with a passkey is offered it first ("Use a passkey"; it counts with or without two-step
// verification), and can switch to the password or code.

import { h } from "../dom.js";
import { wasCancelled } from "../webauthn.js";
import { field } from "./forms.js";
import { WRONG_CODE, secondFactor } from "./second-factor.js";

/** The kind of proof auth asked for when it refused one of the wrong kind (two-step verification
 * turned on or off since the dialog chose): 403 "…: enter a code" or "…: enter the password". */
function kindAsked(problem) {
  if (problem.status !== 403) return null;
  if (/enter a code/i.test(problem.message || "")) return "code";
  if (/enter the password/i.test(problem.message || "")) return "password";
  return null;
}

/**
 * Shows the dialog; resolves true once `stepUp(proof)` succeeded, false if the user cancels (or
 * the session turns out to be over). `withCode`: ask for a code rather than the password.
 * `withPasskey`: null, or a function resolving to a passkey's proof `{ challenge_id, credential }`
 * (it runs the browser's prompt); the dialog then offers the passkey first. Wrong proof says so
 * and lets the user try again.
 */
export function askToAuthenticateAgain({ maxAge, withCode = false, withPasskey = null, stepUp }) {
  return new Promise((resolve) => {
    const intro = h("p");
    const secret = h("div");
    const passwordError = h("p", { className: "field-error", role: "alert", hidden: true });
    const passkeyNote = h("p", { className: "muted", role: "status", hidden: true });
    const passkeyError = h("p", { className: "field-error", role: "alert", hidden: true });
    const confirm = h("button", { type: "submit", className: "primary" }, "Confirm");
    const switchTo = h("p", { className: "muted" });
    const minutes = maxAge ? Math.max(1, Math.round(maxAge / 60)) : null;
    const within = minutes ? `This needs a sign-in within the last ${minutes} minute${minutes === 1 ? "" : "s"}. ` : "";
    let factor = null; // the code field, once the dialog asks for a code
    let usePasskey = false;
    let wantsCode = withCode; // what the dialog asks for instead of a passkey

    /** A link-like button to the other way of confirming, if there is one. */
    function offer(label, ask) {
      switchTo.replaceChildren(
        h("button", { type: "button", className: "link", on: { click: () => { ask(); focusFirst(); } } }, label),
      );
      switchTo.hidden = false;
    }
    function askForPasskey() {
      factor = null;
      usePasskey = true;
      passkeyNote.hidden = true;
      passkeyError.hidden = true;
      intro.textContent = `${within}Use your passkey to go on.`;
      secret.replaceChildren(passkeyNote, passkeyError);
      confirm.textContent = "Use a passkey";
      offer(wantsCode ? "Use a code instead" : "Use your password instead", askForSecret);
    }
    function askForPassword() {
      factor = null;
      usePasskey = false;
      wantsCode = false;
      passwordError.hidden = true;
      intro.textContent = `${within}Enter your password to go on.`;
      secret.replaceChildren(
        field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
        passwordError,
      );
      confirm.textContent = "Confirm";
      offerPasskey();
    }
    function askForCode() {
      factor = secondFactor();
      usePasskey = false;
      wantsCode = true;
      intro.textContent = `${within}Your account uses two-step verification.`;
      secret.replaceChildren(factor.element);
      confirm.textContent = "Confirm";
      offerPasskey();
    }
    function askForSecret() {
      if (wantsCode) askForCode();
      else askForPassword();
    }
    function offerPasskey() {
      if (withPasskey) offer("Use a passkey instead", askForPasskey);
      else switchTo.hidden = true;
    }
    function focusFirst() {
      (form.querySelector("input") || confirm).focus();
    }

    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: "step-up-title" }, "Confirm it is you"),
      intro,
      secret,
      h(
        "p",
        { className: "actions" },
        confirm,
        h("button", { type: "button", className: "secondary", value: "cancel" }, "Cancel"),
      ),
      switchTo,
    );
    if (withPasskey) askForPasskey();
    else askForSecret();
    const dialog = h("dialog", { className: "card", "aria-labelledby": "step-up-title" }, form);
    document.body.append(dialog);

    function finish(result) {
      dialog.close();
      dialog.remove();
      resolve(result);
    }

    form.querySelector('button[value="cancel"]').addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", () => finish(false)); // Escape
    /** The passkey's proof, or null when the user closed the browser's prompt (said calmly). */
    async function passkeyProof() {
      passkeyNote.hidden = true;
      passkeyError.hidden = true;
      try {
        return await withPasskey();
      } catch (problem) {
        if (problem.status === 401) throw problem; // the session is over
        if (wasCancelled(problem)) {
          passkeyNote.textContent = `No passkey was used. Try again, or use ${wantsCode ? "a code" : "your password"}.`;
          passkeyNote.hidden = false;
        } else {
          passkeyError.textContent = problem.message;
          passkeyError.hidden = false;
        }
        return null;
      }
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      confirm.disabled = true;
      try {
        const proof = usePasskey
          ? await passkeyProof()
          : factor ? factor.proof() : { password: String(new FormData(form).get("password")) };
        if (proof) {
          await stepUp(proof);
          finish(true);
          return;
        }
      } catch (problem) {
        if (problem.status === 401) return finish(false); // the session is over: nothing to confirm
        const asked = kindAsked(problem);
        if (usePasskey) {
          passkeyError.textContent = problem.status === 403 ? "That passkey could not confirm it is you." : problem.message;
          passkeyError.hidden = false;
        } else if (asked === "code" && !factor) {
          askForCode();
          factor.focus();
        } else if (asked === "password" && factor) {
          askForPassword();
          form.querySelector("input").focus();
        } else if (factor) {
          factor.showError(problem.status === 403 ? WRONG_CODE : problem.message);
        } else {
          passwordError.textContent = problem.status === 403 ? "That is not the password." : problem.message;
          passwordError.hidden = false;
        }
      }
      confirm.disabled = false;
    });
    dialog.showModal();
    focusFirst();
  });
}
