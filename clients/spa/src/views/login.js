// The sign-in screen. An address not verified yet (403 email-not-verified, said only after the
// password checked out) gets a way to have the link sent again. An account with two-step
// verification on (401 mfa-required) goes on to a second step: a code from the authenticator
// app, or a recovery code. "Sign in with a passkey" needs no address and no password: the
// browser asks for the passkey (its screen lock, a security key), and that is the whole sign-in.
// What went wrong (a wrong password, a refused passkey, a rate limit) is said in the form.

import { api } from "../api.js";
import { login, loginWithCode, loginWithPasskey, loginWithPasskeyAsSecondStep } from "../auth.js";
import { h } from "../dom.js";
import { passkeysSupported, wasCancelled } from "../webauthn.js";
import { clearErrors, field, onSubmit, showFormError, whileBusy } from "./forms.js";
import { checkYourInbox } from "./inbox.js";
import { messageOf } from "./loading.js";
import { WRONG_CODE, secondFactor } from "./second-factor.js";

export function renderLogin(container, ctx) {
  passwordStep(container, ctx);
}

/** What auth's refusal of a passkey sign-in means for the user. */
function passkeyProblem(error) {
  if (error.code === "passkey-sign-in-refused") {
    return new Error("That passkey was not accepted. Try another one, or sign in with your password.");
  }
  if (error.code === "passkey-rejected") return new Error("The passkey sign-in took too long. Please try again.");
  return error;
}

function passwordStep(container, ctx, email = "") {
  const passkeyNote = h("p", { className: "muted", role: "status", hidden: true });
  const passkeyButton = passkeysSupported()
    ? h("button", { type: "button", className: "secondary", on: { click: () => signInWithPasskey() } }, "Sign in with a passkey")
    : null;
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in"),
    field("Email", { type: "email", name: "email", autocomplete: "username", required: true, value: email || null }),
    field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true }),
    h("button", { type: "submit", className: "primary" }, "Sign in"),
    passkeyButton,
    passkeyNote,
    h("p", { className: "muted" }, h("a", { href: "#/forgot" }, "Forgot your password?")),
    h("p", { className: "muted" }, "No account yet? ", h("a", { href: "#/register" }, "Create one")),
  );
  async function signInWithPasskey() {
    ctx.clearBanner();
    clearErrors(form);
    passkeyNote.hidden = true;
    try {
      await whileBusy(form, () => loginWithPasskey());
      ctx.navigate("#/orders");
    } catch (error) {
      if (!wasCancelled(error)) return showFormError(form, messageOf(passkeyProblem(error)));
      passkeyNote.textContent = "No passkey was used. You can try again, or sign in with your password.";
      passkeyNote.hidden = false;
    }
  }
  onSubmit(form, ctx, async (data) => {
    passkeyNote.hidden = true;
    const email = String(data.get("email"));
    try {
      const secondStep = await login(email, String(data.get("password")));
      if (secondStep) return codeStep(container, ctx, email, secondStep);
      ctx.navigate("#/orders");
    } catch (error) {
      if (error.status === 401) throw new Error("That email address and password do not match. Check them and try again.");
      if (error.code !== "email-not-verified") throw error;
      container.replaceChildren(
        checkYourInbox(ctx, {
          email,
          what: "a link to verify your address when you registered. Open it, then sign in.",
          resend: () => api.resendVerification(email),
        }),
      );
    }
  });
  container.replaceChildren(form);
  form.querySelector(email ? 'input[name="password"]' : "input").focus();
  return form;
}

/** The second step: the password was right, now a code; `mfaToken` stands for the first step. */
function codeStep(container, ctx, email, { mfaToken, methods }) {
  const factor = secondFactor();
  const withPasskey = methods.includes("passkey") && passkeysSupported();
  const passkeyNote = h("p", { className: "muted", role: "status", hidden: true });
  const form = h(
    "form",
    { className: "card narrow", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Two-step verification"),
    withPasskey
      ? h("p", {}, h("button", { type: "button", className: "secondary", on: { click: () => finish(() => loginWithPasskeyAsSecondStep(mfaToken)) } }, "Use a passkey"))
      : null,
    passkeyNote,
    factor.element,
    h("button", { type: "submit", className: "primary" }, "Verify"),
    h("p", { className: "muted" },
      h("button", { type: "button", className: "link", on: { click: () => passwordStep(container, ctx, email) } }, "Start over")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    finish(() => loginWithCode(mfaToken, factor.proof()));
  });

  /** Runs the second step (a code or a passkey), then on to the orders, or says what went wrong. */
  async function finish(step) {
    ctx.clearBanner();
    clearErrors(form);
    factor.clearError();
    passkeyNote.hidden = true;
    try {
      await whileBusy(form, step);
      ctx.navigate("#/orders");
    } catch (error) {
      if (wasCancelled(error)) {
        passkeyNote.textContent = "No passkey was used. Use it again, or enter a code.";
        passkeyNote.hidden = false;
        return;
      }
      if (error.code === "mfa-code-invalid") {
        factor.showError(WRONG_CODE);
        factor.focus();
      } else if (error.code === "mfa-token-invalid") {
        showFormError(passwordStep(container, ctx, email), "This sign-in expired or had too many wrong codes. Please sign in again.");
      } else {
        showFormError(form, messageOf(error));
      }
    }
  }
  container.replaceChildren(form);
  factor.focus();
}
