// The step-up dialog: an operation answered 401 `insufficient_user_authentication` (RFC 9470,
// e.g. a refund needs a sign-in within the last 5 minutes), so the user confirms it is them, the
// session steps up, and the operation is retried once. With two-step verification on, only a
// code counts (authenticator app or recovery code), so the dialog asks for that, not the password.

import { h } from "../dom.js";
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
 * the session turns out to be over). `withCode`: ask for a code rather than the password. Wrong
 * proof says so and lets the user try again.
 */
export function askToAuthenticateAgain({ maxAge, withCode = false, stepUp }) {
  return new Promise((resolve) => {
    const intro = h("p");
    const secret = h("div");
    const passwordError = h("p", { className: "field-error", role: "alert", hidden: true });
    const minutes = maxAge ? Math.max(1, Math.round(maxAge / 60)) : null;
    const within = minutes ? `This needs a sign-in within the last ${minutes} minute${minutes === 1 ? "" : "s"}. ` : "";
    let factor = null; // the code field, once the dialog asks for a code

    function askForPassword() {
      factor = null;
      passwordError.hidden = true;
      intro.textContent = `${within}Enter your password to go on.`;
      secret.replaceChildren(
        field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
        passwordError,
      );
    }
    function askForCode() {
      factor = secondFactor();
      intro.textContent = `${within}Your account uses two-step verification.`;
      secret.replaceChildren(factor.element);
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
        h("button", { type: "submit", className: "primary" }, "Confirm"),
        h("button", { type: "button", className: "secondary", value: "cancel" }, "Cancel"),
      ),
    );
    if (withCode) askForCode();
    else askForPassword();
    const dialog = h("dialog", { className: "card", "aria-labelledby": "step-up-title" }, form);
    document.body.append(dialog);

    function finish(result) {
      dialog.close();
      dialog.remove();
      resolve(result);
    }

    form.querySelector('button[value="cancel"]').addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", () => finish(false)); // Escape
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const proof = factor ? factor.proof() : { password: String(new FormData(form).get("password")) };
      const confirm = form.querySelector('button[type="submit"]');
      confirm.disabled = true;
      try {
        await stepUp(proof);
        finish(true);
        return;
      } catch (problem) {
        if (problem.status === 401) return finish(false); // the session is over: nothing to confirm
        const asked = kindAsked(problem);
        if (asked === "code" && !factor) {
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
    form.querySelector("input").focus();
  });
}
