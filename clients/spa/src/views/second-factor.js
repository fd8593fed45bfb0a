// The second factor of two-step verification, as the sign-in's second step and the step-up
// dialog ask for it: the 6-digit code of the authenticator app or, behind "Use a recovery code
// instead", one of the recovery codes. Only the field in use is in the form (a hidden required
// field would block the submit).

import { h } from "../dom.js";
import { field } from "./forms.js";

export const WRONG_CODE = "That code is not right.";

/**
 * const factor = secondFactor();  form.append(factor.element);
 * factor.proof() → { code } or { recovery_code }; factor.showError(text) under the field.
 */
export function secondFactor() {
  const codeField = field("Authenticator code", {
    name: "code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "\\s*[0-9]{3}\\s?[0-9]{3}\\s*",
    title: "The 6 digits the app shows",
    required: true,
  });
  const recoveryField = field("Recovery code", {
    name: "recovery_code",
    autocomplete: "off",
    autocapitalize: "off",
    spellcheck: "false",
    required: true,
  });
  const hint = h("p", { className: "muted" });
  const error = h("p", { className: "field-error", role: "alert", hidden: true });
  const toggle = h("button", { type: "button", className: "link" });
  const element = h("div", { className: "second-factor" });
  let useRecoveryCode = false;

  function show() {
    hint.textContent = useRecoveryCode
      ? "Enter one of the recovery codes you saved when you turned two-step verification on. Each works once."
      : "Enter the 6-digit code from your authenticator app.";
    toggle.textContent = useRecoveryCode ? "Use the authenticator app instead" : "Use a recovery code instead";
    error.hidden = true;
    element.replaceChildren(hint, useRecoveryCode ? recoveryField : codeField, error, h("p", {}, toggle));
  }
  toggle.addEventListener("click", () => {
    useRecoveryCode = !useRecoveryCode;
    show();
    factor.focus();
  });
  show();

  const factor = {
    element,
    proof() {
      if (useRecoveryCode) return { recovery_code: recoveryField.querySelector("input").value.trim() };
      return { code: codeField.querySelector("input").value.replace(/\s/g, "") };
    },
    showError(text) {
      error.textContent = text;
      error.hidden = false;
    },
    clearError() {
      error.hidden = true;
    },
    focus() {
      (useRecoveryCode ? recoveryField : codeField).querySelector("input").focus();
    },
  };
  return factor;
}
