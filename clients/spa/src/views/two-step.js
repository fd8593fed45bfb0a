// The "Two-step verification" card of `#/account`: TOTP (RFC 6238) with an authenticator app.
//
// Off → "Turn on" (auth may first ask the user to confirm it is them: the step-up dialog) →
// scan the QR code or type the key → a first code turns it on → the ten recovery codes, shown
// this once. On → "New recovery codes" (shown once; the old ones stop working) or "Turn off".
// The QR code is the SVG auth renders, parsed as XML and imported as DOM: no data: URL (the CSP
// is default-src 'self') and no third-party QR service ever sees the secret.

import { api } from "../api.js";
import { h } from "../dom.js";
import { field, whileBusy } from "./forms.js";
import { WRONG_CODE } from "./second-factor.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The `qr_svg` auth sent, as an <svg> element; null if it is not one. */
function qrCode(svgText) {
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const root = parsed.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== "svg" || parsed.getElementsByTagName("parsererror").length) return null;
  for (const element of root.querySelectorAll("script, foreignObject")) element.remove(); // draws, never runs
  const svg = document.importNode(root, true);
  const [width, height] = [svg.getAttribute("width"), svg.getAttribute("height")];
  if (!svg.hasAttribute("viewBox") && width && height) svg.setAttribute("viewBox", `0 0 ${parseFloat(width)} ${parseFloat(height)}`);
  svg.removeAttribute("width"); // the stylesheet sizes it
  svg.removeAttribute("height");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code for your authenticator app");
  return svg;
}

/** ABCD EFGH …: easier to type from the screen. */
function groupsOfFour(secret) {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

export async function twoStepSection(ctx) {
  const section = h("section", { className: "card", "aria-labelledby": "two-step-title" });
  const show = (state, ...children) => {
    section.dataset.state = state;
    section.replaceChildren(h("h2", { id: "two-step-title" }, "Two-step verification"), ...children);
  };
  const button = (label, className, click) => h("button", { type: "button", className, on: { click } }, label);

  /** Runs a button's call with the button disabled; errors go to the banner. */
  async function act(event, call) {
    const clicked = event.currentTarget;
    clicked.disabled = true;
    ctx.clearBanner();
    try {
      await call();
    } catch (error) {
      ctx.showError(error);
    } finally {
      clicked.disabled = false;
    }
  }

  async function showStatus() {
    const status = await api.mfaStatus();
    if (status.totp !== "on") {
      show(
        "off",
        h("p", {}, "Status: ", h("span", { className: "badge" }, "off")),
        h("p", { className: "muted" }, "Sign-ins can ask for a second step: a 6-digit code from an authenticator app on your phone, so a stolen password alone is not enough."),
        h("p", { className: "actions" }, button("Turn on", "primary", (event) => act(event, startSetup))),
      );
      return;
    }
    const left = status.recovery_codes_left;
    const actions = h("p", { className: "actions" },
      button("New recovery codes", "secondary", (event) => act(event, async () => showCodes(await api.newRecoveryCodes(), "Your old recovery codes no longer work."))),
      button("Turn off", "secondary", () => confirmTurnOff(actions)));
    show(
      "on",
      h("p", {}, "Status: ", h("span", { className: "badge status-on" }, "on")),
      h("p", { className: "muted" }, `Signing in asks for a code from your authenticator app. ${left} recovery code${left === 1 ? "" : "s"} left.`),
      actions,
    );
  }

  function confirmTurnOff(actions) {
    actions.replaceChildren(
      h("span", {}, "Turn two-step verification off? Signing in will need only your password. "),
      button("Yes, turn it off", "primary", (event) =>
        act(event, async () => {
          await api.turnOffTotp();
          ctx.showNotice("Two-step verification is off.");
          await showStatus();
        })),
      button("Keep it on", "secondary", () => showStatus().catch(ctx.showError)),
    );
  }

  async function startSetup() {
    const setup = await api.startTotp();
    const qr = qrCode(setup.qr_svg);
    const error = h("p", { className: "field-error", role: "alert", hidden: true });
    const form = h(
      "form",
      { "aria-label": "Turn on two-step verification" },
      field("Authenticator code", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true,
        pattern: "\\s*[0-9]{3}\\s?[0-9]{3}\\s*", title: "The 6 digits the app shows" }),
      error,
      h("p", { className: "actions" },
        h("button", { type: "submit", className: "primary" }, "Verify and turn on"),
        button("Cancel", "secondary", () => showStatus().catch(ctx.showError))),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      ctx.clearBanner();
      error.hidden = true;
      const code = String(new FormData(form).get("code")).replace(/\s/g, "");
      try {
        showCodes(await whileBusy(form, () => api.confirmTotp(code)), "Two-step verification is on.");
      } catch (problem) {
        if (problem.status !== 403) return ctx.showError(problem);
        error.textContent = WRONG_CODE;
        error.hidden = false;
        form.querySelector("input").focus();
      }
    });
    show(
      "setup",
      h("ol", { className: "steps" },
        h("li", {}, "Scan this QR code with an authenticator app (any app for “time-based one-time passwords”).",
          h("div", { className: "qr" }, qr || h("p", { className: "muted" }, "The QR code cannot be shown here: type the key below instead."))),
        h("li", {}, "Or type this key into the app: ", h("code", { className: "secret", "aria-label": "Setup key" }, groupsOfFour(setup.secret))),
        h("li", {}, "Enter the 6-digit code the app now shows.", form)),
    );
    form.querySelector("input").focus();
  }

  /** The recovery codes, this one time: auth keeps only their hashes. */
  function showCodes(codes, notice) {
    ctx.showNotice(notice);
    show(
      "recovery-codes",
      h("h3", {}, "Save your recovery codes"),
      h("p", { className: "save-note" }, h("strong", {}, "Save these now: they are not shown again. "),
        "If you lose your phone, each code signs you in once instead of the app's code. Keep them somewhere safe, away from this device."),
      h("ul", { className: "recovery-codes", "aria-label": "Recovery codes" }, codes.map((code) => h("li", {}, h("code", {}, code)))),
      h("p", { className: "actions" }, button("Done", "primary", (event) => act(event, showStatus))),
    );
  }

  await showStatus();
  return section;
}
