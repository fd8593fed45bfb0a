// Boots the SPA: restores the session from the refresh cookie, then routes by URL hash.
//
// Every screen is a function `render(container, ctx)`; `ctx` lets it navigate and report errors,
// and `ctx.params` holds the query of the hash (`#/verify?token=…`: mailed links). A screen that
// takes a token from the address removes it at once (`takeParam`), so it stays out of history.
// <body data-auth="signed-in|signed-out"> mirrors the auth state (styling and tests rely on it).

import { api } from "./api.js";
import { isSignedIn, logout, onAuthChange, restoreSession } from "./auth.js";
import { h, replaceChildren } from "./dom.js";
import { renderAccount } from "./views/account.js";
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

let pendingNotice = null;

function showBanner(kind, message, details = []) {
  banner.className = `banner ${kind}`;
  banner.setAttribute("role", kind === "error" ? "alert" : "status");
  replaceChildren(banner, h("p", {}, message), details.length ? h("ul", {}, details.map((line) => h("li", {}, line))) : null);
  banner.hidden = false;
}

const ctx = {
  navigate,
  clearBanner() {
    banner.hidden = true;
    banner.replaceChildren();
  },
  showError(error) {
    const message = error && error.message ? error.message : String(error);
    showBanner("error", error instanceof TypeError ? `Network error: ${message}` : message, (error && error.fieldErrors) || []);
  },
  showNotice(message) {
    showBanner("notice", message);
  },
};

function navigate(hash, notice = null) {
  if (notice) pendingNotice = notice;
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
  if (pendingNotice) {
    ctx.showNotice(pendingNotice);
    pendingNotice = null;
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
    ctx.showError(error);
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
  reflectAuthState(restored);
  // From now on a sign-in or sign-out, in this tab or another one, re-renders the screen.
  onAuthChange((signedIn) => {
    reflectAuthState(signedIn);
    if (!signedIn) pendingNotice = "You are signed out.";
    render();
  });
  window.addEventListener("hashchange", render);
  await render();
  document.body.dataset.ready = "true";
}

boot();
