// Boots the SPA: restores the session from the refresh cookie, then routes by URL hash.
//
// Every screen is a function `render(container, ctx)`; `ctx` lets it navigate, show a notice or an
// error in the banner, and take a query parameter of the hash (`#/verify?token=…`: mailed links)
// with `ctx.takeParam`, which removes it from the address at once, so it stays out of history.
// <body data-auth="signed-in|signed-out"> mirrors the auth state (styling and tests rely on it).
// A sign-out says why: the user's own "Log out" is a calm notice; a session that ended elsewhere
// or expired is a warning that says so.

import { api } from "./api.js";
import { SignOutReason, isSignedIn, logout, onAuthChange, restoreSession } from "./auth.js";
import { h, replaceChildren } from "./dom.js";
import { renderAccount } from "./views/account.js";
import { failureNote, messageOf } from "./views/loading.js";
import { renderForgotPassword, renderResetPassword } from "./views/recovery.js";
import { renderInvoices } from "./views/invoices.js";
import { renderLogin } from "./views/login.js";
import { renderOrders } from "./views/orders.js";
import { renderRegister } from "./views/register.js";
import { renderSessions } from "./views/sessions.js";
import { renderVerify } from "./views/verify.js";

// public: signed-out only; anyone: either (a mailed link works whoever is signed in).
const ROUTES = {
  "#/login": { render: renderLogin, title: "Sign in", public: true },
  "#/register": { render: renderRegister, title: "Create an account", public: true },
  "#/forgot": { render: renderForgotPassword, title: "Forgot password", public: true },
  "#/verify": { render: renderVerify, title: "Verify your address", anyone: true },
  "#/reset": { render: renderResetPassword, title: "Choose a new password", anyone: true },
  "#/orders": { render: renderOrders, title: "Orders" },
  "#/invoices": { render: renderInvoices, title: "Invoices" },
  "#/sessions": { render: renderSessions, title: "Sessions" },
  "#/account": { render: renderAccount, title: "Account" },
};
const HOME = "#/orders";

const view = document.getElementById("view");
const banner = document.getElementById("banner");
const nav = document.getElementById("nav");
const who = document.getElementById("who");

/** What the banner says after a sign-out, by its reason (`SignOutReason`): [kind, words]. */
const SIGNED_OUT = {
  [SignOutReason.LOGOUT]: ["notice", "You are signed out."],
  [SignOutReason.LOGOUT_ALL]: ["notice", "You are signed out on every device."],
  [SignOutReason.REVOKED]: ["warning", "This device was signed out: the session was revoked elsewhere (from another device, by a password change or “Log out everywhere”). Sign in again to go on."],
  [SignOutReason.ENDED]: ["warning", "This device was signed out: the session expired or was revoked elsewhere. Sign in again to go on."],
  [SignOutReason.RESET]: ["warning", "This device was signed out: the password was reset, which ends every session. Sign in with the new password."],
};

/** [kind, message] for the banner of the next screen rendered, or null. */
let pending = null;

function showBanner(kind, message, details = []) {
  banner.className = `banner ${kind}`;
  banner.setAttribute("role", kind === "notice" ? "status" : "alert");
  replaceChildren(banner, h("p", {}, message), details.length ? h("ul", {}, details.map((line) => h("li", {}, line))) : null);
  banner.hidden = false;
}

const ctx = {
  navigate,
  clearBanner() {
    banner.hidden = true;
    banner.replaceChildren();
  },
  /** An action's failure (Pay, Revoke, …); a form shows its own errors (views/forms.js). */
  showError(error) {
    if (error?.sessionEnded) return; // the sign-out says why
    const details = (error?.fieldErrors || []).map(({ field, message }) => (field ? `${field}: ${message}` : message));
    showBanner("error", messageOf(error), details);
  },
  showNotice(message) {
    showBanner("notice", message);
  },
};

function navigate(hash, notice = null) {
  if (notice) pending = ["notice", notice];
  if (location.hash === hash) return render();
  location.hash = hash;
}

/** "#/verify?token=x" → ["#/verify", URLSearchParams {token: x}] */
function parseHash(hash) {
  const at = hash.indexOf("?");
  return at < 0 ? [hash, new URLSearchParams()] : [hash.slice(0, at), new URLSearchParams(hash.slice(at + 1))];
}

/** The query parameter `name`, removed from the address bar (and so from history) first. */
function takeParam(name) {
  const [path, params] = parseHash(location.hash);
  const value = params.get(name);
  params.delete(name);
  const rest = params.toString();
  history.replaceState(null, "", `${location.pathname}${location.search}${path}${rest ? `?${rest}` : ""}`);
  return value;
}
ctx.takeParam = takeParam;

async function render() {
  const [path] = parseHash(location.hash);
  const route = ROUTES[path];
  if (!route) return navigate(isSignedIn() ? HOME : "#/login");
  if (!route.anyone && !route.public && !isSignedIn()) return navigate("#/login");
  if (route.public && isSignedIn()) return navigate(HOME);

  ctx.clearBanner();
  if (pending) {
    showBanner(...pending);
    pending = null;
  }
  document.title = `${route.title} · Tessera`;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const container = h("div", { className: "screen", dataset: { screen: path.slice(2) } });
  view.replaceChildren(container);
  try {
    await route.render(container, ctx);
  } catch (error) {
    // a screen shows its own loading failures; anything else still keeps the page, with Retry
    if (error?.sessionEnded || !container.isConnected) return;
    container.replaceChildren(failureNote(error, { what: "this page", retry: render }));
  }
}

async function showWhoIAm() {
  try {
    const me = await api.me();
    who.textContent = me.email;
  } catch {
    who.textContent = "";
  }
}

function reflectAuthState(signedIn) {
  document.body.dataset.auth = signedIn ? "signed-in" : "signed-out";
  if (signedIn) {
    showWhoIAm();
  } else {
    who.textContent = "";
  }
}

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await logout();
  } catch (error) {
    ctx.showError(error);
  }
});

document.getElementById("logout-all").addEventListener("click", async () => {
  try {
    await api.logoutEverywhere();
  } catch (error) {
    ctx.showError(error);
  }
});

async function boot() {
  const restored = await restoreSession();
  reflectAuthState(restored === "signed-in");
  if (restored === "ended") pending = SIGNED_OUT[SignOutReason.ENDED];
  // From now on a sign-in or sign-out, in this tab or another one, re-renders the screen.
  onAuthChange((signedIn, reason) => {
    reflectAuthState(signedIn);
    if (!signedIn) pending = SIGNED_OUT[reason] || null;
    render();
  });
  window.addEventListener("hashchange", render);
  await render();
  document.body.dataset.ready = "true";
}

boot();
