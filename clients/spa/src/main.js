// Boots the SPA: restores the session from the refresh cookie, then routes by URL hash.
//
// Every screen is a function `render(container, ctx)`; `ctx` lets it navigate and report errors.
// <body data-auth="signed-in|signed-out"> mirrors the auth state (styling and tests rely on it).

import { api } from "./api.js";
import { isSignedIn, logout, onAuthChange, restoreSession } from "./auth.js";
import { h, replaceChildren } from "./dom.js";
import { renderInvoices } from "./views/invoices.js";
import { renderLogin } from "./views/login.js";
import { renderOrders } from "./views/orders.js";
import { renderRegister } from "./views/register.js";
import { renderSessions } from "./views/sessions.js";

const ROUTES = {
  "#/login": { render: renderLogin, title: "Sign in", public: true },
  "#/register": { render: renderRegister, title: "Create an account", public: true },
  "#/orders": { render: renderOrders, title: "Orders" },
  "#/invoices": { render: renderInvoices, title: "Invoices" },
  "#/sessions": { render: renderSessions, title: "Sessions" },
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

function navigate(hash) {
  if (location.hash === hash) return;
  location.hash = hash;
}

async function render() {
  const route = ROUTES[location.hash];
  if (!route) return navigate(isSignedIn() ? HOME : "#/login");
  if (!route.public && !isSignedIn()) return navigate("#/login");
  if (route.public && isSignedIn()) return navigate(HOME);

  ctx.clearBanner();
  if (pendingNotice) {
    ctx.showNotice(pendingNotice);
    pendingNotice = null;
  }
  document.title = `${route.title} · Tessera`;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === location.hash) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const container = h("div", { className: "screen", dataset: { screen: location.hash.slice(2) } });
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
