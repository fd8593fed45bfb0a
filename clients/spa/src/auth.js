// The token holder: the one place in the SPA that knows about tokens and sessions.
//
// Rules this module shows (DESIGN §7):
// - The access token lives in this module-level variable and nowhere else: never localStorage,
//   sessionStorage, IndexedDB or a cookie readable by script. A reload forgets it on purpose.
// - The refresh token is an HttpOnly cookie (`tessera_rt`, `Path=/v1/auth`) that script never
//   sees; the browser sends it to the token and logout endpoints only.
// - Cookie-authenticated calls (web login, refresh, logout) echo the `tessera_csrf` cookie in an
//   `X-CSRF-Token` header: a page on another origin can neither read that cookie nor set the header.
// - Tabs share one refresh cookie, so they must not refresh at the same time: a Web Lock makes
//   the refresh single-flight across tabs, and a BroadcastChannel hands the new access token (or
//   "logged-out") to every other tab.

import { getPasskey } from "./webauthn.js";

const TOKEN_ENDPOINT = "/v1/auth/token";
const CSRF_COOKIE = "tessera_csrf";
const CHANNEL_NAME = "tessera-auth";
const LOCK_NAME = "tessera-refresh";
const CLIENT_ID = "web";

/** The access token: in memory only. */
let accessToken = null;
/** Bumped whenever the token changes, so a tab that waited for the lock can tell it was refreshed. */
let generation = 0;
/** This tab's refresh in flight, if any: callers in one tab share it. */
let refreshInFlight = null;

const listeners = new Set();
const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(CHANNEL_NAME) : null;

/** An error from the auth endpoints, carrying what the server said. `sessionEnded`: a refresh
 * was refused, so this session is over and every tab has been signed out. */
export class AuthError extends Error {
  constructor(message, { status = 0, code = null } = {}) {
    super(message);
    this.name = "AuthError";
    this.status = status;
    this.code = code;
    this.sessionEnded = false;
  }
}

/**
 * Why a tab signed out, as listeners get it:
 * - "logout": the user logged out (here or in another tab);
 * - "logout-all": the user logged out everywhere from this browser;
 * - "revoked": an API refused the token as revoked, then the refresh was refused: the session
 *   was ended elsewhere (the sessions screen of another device, a password change, "log out
 *   everywhere" on another device, an administrator);
 * - "ended": a refresh was refused after the token expired: the session expired or was revoked
 *   (auth never says which check failed);
 * - "reset": a password reset ended every session.
 */
export const SignOutReason = Object.freeze({
  LOGOUT: "logout",
  LOGOUT_ALL: "logout-all",
  REVOKED: "revoked",
  ENDED: "ended",
  RESET: "reset",
});

/** `listener(signedIn: boolean, reason)` runs whenever this tab signs in or out (by itself or via
 * another tab); `reason` (a `SignOutReason`) says why it signed out, null for a sign-in. */
export function onAuthChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function isSignedIn() {
  return accessToken !== null;
}

export function currentAccessToken() {
  return accessToken;
}

function setAccessToken(token, reason = null) {
  const wasSignedIn = accessToken !== null;
  accessToken = token;
  generation += 1;
  if (wasSignedIn !== (token !== null)) {
    for (const listener of listeners) listener(token !== null, token === null ? reason : null);
  }
}

if (channel) {
  channel.addEventListener("message", (event) => {
    const message = event.data;
    if (message && message.type === "token" && typeof message.accessToken === "string") {
      setAccessToken(message.accessToken);
    } else if (message && message.type === "logged-out") {
      setAccessToken(null, message.reason || SignOutReason.LOGOUT);
    }
  });
}

function broadcast(message) {
  if (channel) channel.postMessage(message);
}

/** Puts a new access token of this session in memory, in this tab and every other one. */
export function adoptAccessToken(token) {
  setAccessToken(token);
  broadcast({ type: "token", accessToken: token });
}

/** The CSRF cookie's value (not HttpOnly by design), or null. */
export function readCsrfCookie() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return null;
}

/** `X-CSRF-Token` with the cookie's value: for cookie-authenticated calls, and the few bearer calls
 * auth asks it of (step-up, the MFA settings). */
export function csrfHeaders() {
  const csrf = readCsrfCookie();
  return csrf ? { "X-CSRF-Token": csrf } : {};
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status line is all we have.
  }
  // RFC 6749 `error`, or the last part of a problem's `type` (urn:tessera:problem:email-not-verified)
  const problem = body && typeof body.type === "string" ? body.type.split(":").pop() : null;
  const code = body && typeof body.error === "string" ? body.error : problem;
  const message =
    (body && (body.error_description || body.detail || body.title)) ||
    code ||
    `${response.status} ${response.statusText}`.trim();
  return new AuthError(message, { status: response.status, code });
}

/** Runs `task` under the cross-tab refresh lock (or directly where Web Locks are unavailable,
 * e.g. plain http on a non-localhost host, which is not a secure context). */
function withRefreshLock(task) {
  if (navigator.locks && typeof navigator.locks.request === "function") {
    return navigator.locks.request(LOCK_NAME, task);
  }
  return task();
}

async function requestNewAccessToken() {
  const response = await fetch(TOKEN_ENDPOINT, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...csrfHeaders() },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: CLIENT_ID }),
  });
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  return body.access_token;
}

/**
 * Gets a fresh access token through the refresh cookie and returns it.
 *
 * Single-flight: one refresh per tab at a time (callers share the promise) and one across tabs
 * (the Web Lock). A tab that waited for the lock first checks whether the holder already handed
 * it a new token over the BroadcastChannel; if so it uses that instead of refreshing again.
 * When auth refuses it, every tab is signed out (the session is over) and the AuthError, marked
 * `sessionEnded`, is thrown; `revoked: true` (an API had refused the token as revoked) makes the
 * reason "revoked" rather than "ended".
 */
export function refresh({ revoked = false } = {}) {
  if (refreshInFlight) return refreshInFlight;
  const generationAtStart = generation;
  refreshInFlight = withRefreshLock(async () => {
    if (generation !== generationAtStart && accessToken !== null) return accessToken;
    try {
      const token = await requestNewAccessToken();
      adoptAccessToken(token);
      return token;
    } catch (error) {
      // 400 invalid_grant / 401 invalid_client / 403 CSRF: this session can no longer be refreshed,
      // and the cookie is shared, so no tab can. A network error or 5xx says nothing about it.
      if (error instanceof AuthError && [400, 401, 403].includes(error.status)) {
        error.sessionEnded = true;
        signOutEverywhereLocally(revoked ? SignOutReason.REVOKED : SignOutReason.ENDED);
      }
      throw error;
    }
  }).finally(() => {
    refreshInFlight = null;
  });
  return refreshInFlight;
}

function postStepUp(proof) {
  return fetch("/v1/auth/step-up", {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${accessToken}`,
      ...csrfHeaders(),
    },
    body: JSON.stringify(proof),
  });
}

/**
 * Step-up (RFC 9470): authenticate again in this session, when an operation answered 401
 * `insufficient_user_authentication`. `proof` is `{ password }`, or with two-step verification
 * on `{ code }` (authenticator app) or `{ recovery_code }`. The fresh access token (its
 * `auth_time` now) replaces the one in memory, in every tab. Wrong proof is an AuthError with
 * status 403; an ended session, status 401. An access token that expired while the user typed
 * is refreshed, and the step-up sent again, once.
 */
export async function stepUp(proof) {
  let response = await postStepUp(proof);
  if (response.status === 401) {
    try {
      await refresh();
    } catch (error) {
      if (!(error instanceof AuthError && error.sessionEnded)) throw error;
      throw new AuthError("Your session has ended. Please sign in again.", { status: 401 }); // signed out
    }
    response = await postStepUp(proof);
  }
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  adoptAccessToken(body.access_token);
}

/**
 * On page load: restore the session from the refresh cookie if there is one. Resolves to
 * "signed-in", "signed-out" (there was no session), or "ended" (there was one, and auth refused
 * its refresh: it expired or was revoked while the page was closed).
 */
export async function restoreSession() {
  // Without the CSRF cookie there can be no session to restore; skip the doomed request.
  if (readCsrfCookie() === null) return "signed-out";
  try {
    await refresh();
    return "signed-in";
  } catch (error) {
    // invalid_grant: auth knew the cookie's session and it is over (and cleared the cookies);
    // invalid_request: no refresh cookie at all (a sign-in that never finished left the CSRF one)
    return error instanceof AuthError && error.code === "invalid_grant" ? "ended" : "signed-out";
  }
}

/** A web sign-in call: a fresh login-CSRF cookie first, then the POST echoing it. */
async function postLogin(path, body) {
  const csrfResponse = await fetch("/v1/auth/csrf", { credentials: "same-origin", cache: "no-store" });
  if (!csrfResponse.ok) {
    const error = await errorFrom(csrfResponse);
    error.message = `Sign-in is unavailable (${error.message}).`;
    throw error;
  }
  return fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/json", ...csrfHeaders() },
    body: JSON.stringify({ ...body, client_id: CLIENT_ID }),
  });
}

/** Finishes a sign-in with the answer of /login or /login/mfa (or throws what it said). */
async function signInWith(response) {
  if (!response.ok) throw await errorFrom(response);
  const body = await response.json();
  adoptAccessToken(body.access_token);
}

/**
 * Password login for the web client. Resolves to null once signed in; when the account has
 * two-step verification on (401 `mfa-required`: no session yet), to `{ mfaToken, methods }`,
 * and `loginWithCode(mfaToken, ...)` finishes the sign-in.
 */
export async function login(email, password) {
  const response = await postLogin("/v1/auth/login", { email, password });
  if (response.status === 401) {
    const problem = await response.clone().json().catch(() => null);
    if (problem && typeof problem.type === "string" && problem.type.endsWith("mfa-required")) {
      return { mfaToken: problem.mfa_token, methods: problem.methods || [] };
    }
  }
  await signInWith(response);
  return null;
}

/**
 * The second step of a sign-in: `proof` is `{ code }` (authenticator app) or `{ recovery_code }`.
 * A wrong code is an AuthError with code `mfa-code-invalid` (the mfaToken still works); a spent
 * or expired mfaToken, `mfa-token-invalid` (sign in again).
 */
export async function loginWithCode(mfaToken, proof) {
  await signInWith(await postLogin("/v1/auth/login/mfa", { mfa_token: mfaToken, ...proof }));
}

/**
 * Passwordless sign-in with a passkey (web only): request options from auth (any discoverable
 * passkey of this site), the browser's prompt, then the assertion to `/v1/auth/passkey/login`
 * with a fresh login-CSRF header, exactly as the password login; its answer is the login's
 * (access token in memory, cookies), at acr phr, so no second step. The browser's DOMException
 * comes through as it is (`wasCancelled(error)`: the user closed the prompt); auth's refusals
 * are AuthErrors (code `passkey-sign-in-refused`, or `passkey-rejected` for a spent challenge).
 */
export async function loginWithPasskey() {
  const optionsResponse = await fetch("/v1/auth/passkey/options", {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json" },
  });
  if (!optionsResponse.ok) throw await errorFrom(optionsResponse);
  const options = await optionsResponse.json();
  const credential = await getPasskey(options.publicKey);
  await signInWith(await postLogin("/v1/auth/passkey/login", { challenge_id: options.challenge_id, credential }));
}

/**
 * The second step of a password sign-in with a passkey (the account has one and two-step
 * verification on): options for the mfaToken's user, the browser's prompt, then the answer to
 * `/v1/auth/login/mfa` like a code. Errors as `loginWithCode` and `loginWithPasskey`.
 */
export async function loginWithPasskeyAsSecondStep(mfaToken) {
  const optionsResponse = await fetch("/v1/auth/passkey/options", {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({ mfa_token: mfaToken }),
  });
  if (!optionsResponse.ok) throw await errorFrom(optionsResponse);
  const options = await optionsResponse.json();
  const credential = await getPasskey(options.publicKey);
  await loginWithCode(mfaToken, { challenge_id: options.challenge_id, credential });
}

function signOutEverywhereLocally(reason) {
  setAccessToken(null, reason);
  broadcast({ type: "logged-out", reason });
}

/** Ends this session (cookie + CSRF). Every tab signs out, even if the server call fails. */
export async function logout() {
  try {
    const response = await fetch("/v1/auth/logout", {
      method: "POST",
      credentials: "same-origin",
      headers: csrfHeaders(),
    });
    if (!response.ok && response.status !== 401) throw await errorFrom(response);
  } finally {
    signOutEverywhereLocally(SignOutReason.LOGOUT);
  }
}

/** Signs every tab out without a server call: after logout-all, or when the session is gone
 * (`reason`: a `SignOutReason`). */
export function sessionEnded(reason = SignOutReason.ENDED) {
  signOutEverywhereLocally(reason);
}
