// The step-up dialog: an operation answered 401 `insufficient_user_authentication` (RFC 9470,
// e.g. a refund needs a sign-in within the last 5 minutes), so the user confirms the password,
// the session steps up, and the operation is retried once.

import { h } from "../dom.js";
import { field } from "./forms.js";

/**
 * Shows the dialog; resolves true once `stepUp(password)` succeeded, false if the user cancels.
 * A wrong password says so and lets the user try again.
 */
export function askToAuthenticateAgain({ maxAge, stepUp }) {
  return new Promise((resolve) => {
    const error = h("p", { className: "field-error", role: "alert", hidden: true });
    const minutes = maxAge ? Math.max(1, Math.round(maxAge / 60)) : null;
    const form = h(
      "form",
      { method: "dialog" },
      h("h2", { id: "step-up-title" }, "Confirm it is you"),
      h(
        "p",
        {},
        minutes
          ? `This needs a sign-in within the last ${minutes} minute${minutes === 1 ? "" : "s"}. Enter your password to go on.`
          : "Enter your password to go on.",
      ),
      field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
      error,
      h(
        "p",
        { className: "actions" },
        h("button", { type: "submit", className: "primary" }, "Confirm"),
        h("button", { type: "button", className: "secondary", value: "cancel" }, "Cancel"),
      ),
    );
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
      const password = String(new FormData(form).get("password"));
      const confirm = form.querySelector('button[type="submit"]');
      confirm.disabled = true;
      try {
        await stepUp(password);
        finish(true);
      } catch (problem) {
        error.textContent = problem.status === 403 ? "That is not the password." : problem.message;
        error.hidden = false;
        confirm.disabled = false;
      }
    });
    dialog.showModal();
    form.querySelector("input").focus();
  });
}
