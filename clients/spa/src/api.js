// The fetch wrapper every view uses: adds `Authorization: Bearer`, refreshes once on a 401
// `invalid_token` and retries, asks the user to authenticate again on a 401
// `insufficient_user_authentication` (RFC 9470: a refresh would not help; the password, a code or
// a passkey does) and retries, and turns problem+json (RFC 9457) answers into an `ApiError` the
// views can show: its message, and its field `errors` for the form to put under each field.

import { AuthError, SignOutReason, adoptAccessToken, csrfHeaders, currentAccessToken, refresh, sessionEnded, stepUp } from "./auth.js";
import { askToAuthenticateAgain } from "./views/step-up.js";
import { getPasskey, passkeysSupported } from "./webauthn.js";

/** A failed API call, with what the server said in a form fit to show the user.
 *
 * `fieldErrors`: `[{ field: "items.0.quantity", message }]`, from a 422's `errors` (`loc` without
 * "body", joined by dots; `field` is null for an error about the whole body). `code`: the last
 * part of the problem `type` (`email-not-verified`), or the RFC 6749 `error`. `sessionEnded`: the
 * call failed because this device was signed out, which the sign-out itself tells the user. */
export class ApiError extends Error {
  constructor(message, { status = 0, title = null, detail = null, code = null, fieldErrors = [], retryAfter = null, sessionEnded = false } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.code = code;
    this.fieldErrors = fieldErrors;
    this.retryAfter = retryAfter;
    this.sessionEnded = sessionEnded;
  }
}

const UNREACHABLE = "The server cannot be reached. Check your connection, then retry.";

/** pydantic's `{loc: ["body", "items", 0, "sku"], msg}` → `{field: "items.0.sku", message}`. */
function fieldErrorOf(item) {
  if (typeof item === "string") return { field: null, message: item };
  const location = Array.isArray(item.loc) ? item.loc.filter((part) => part !== "body") : [];
  const field = location.length ? location.join(".") : item.field || null;
  const message = String(item.msg || item.message || item.detail || JSON.stringify(item)).replace(/^Value error, /, "");
  return { field, message: message.charAt(0).toUpperCase() + message.slice(1) };
}

async function errorFrom(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // Not JSON (a proxy error page, say): the status line is all we have.
  }
  const title = problem.title || problem.error || response.statusText || `Error ${response.status}`;
  const detail = problem.detail || problem.error_description || null;
  const rawErrors = Array.isArray(problem.errors) ? problem.errors : Array.isArray(problem.detail) ? problem.detail : [];
  const retryAfter = response.headers.get("Retry-After");
  let message = typeof detail === "string" && detail !== title ? `${title}: ${detail}` : title;
  if (retryAfter) message += ` (try again in ${retryAfter} s)`;
  return new ApiError(message, {
    status: response.status,
    title,
    detail: typeof detail === "string" ? detail : null,
    code: typeof problem.type === "string" && problem.type !== "about:blank" ? problem.type.split(":").pop() : problem.error || null,
    fieldErrors: rawErrors.map(fieldErrorOf),
    retryAfter,
  });
}

async function send(method, path, { body, headers = {}, csrf = false }) {
  const token = currentAccessToken();
  const allHeaders = { Accept: "application/json, application/problem+json", ...headers };
  if (csrf) Object.assign(allHeaders, csrfHeaders()); // read now: a retry sends the current cookie
  if (token) allHeaders.Authorization = `Bearer ${token}`;
  if (body !== undefined) allHeaders["Content-Type"] = "application/json";
  try {
    return await fetch(path, {
      method,
      headers: allHeaders,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    // fetch rejects only when there is no answer at all: offline, DNS, a refused connection
    throw new ApiError(UNREACHABLE, { code: "network" });
  }
}

/** The `error` of a response's `WWW-Authenticate: Bearer error="…"` challenge, or null. */
function challengeError(response) {
  const match = /\berror="([^"]*)"/.exec(response.headers.get("WWW-Authenticate") || "");
  return match ? match[1] : null;
}

/** Whether a 401 says the token was refused because its session or user was revoked, not because
 * it expired: the revocation index's "The session has been revoked", "… before the user's tokens
 * were revoked", auth's "the session of this token has ended", "token is no longer valid …". */
function saysRevoked(response) {
  const match = /error_description="([^"]*)"/.exec(response.headers.get("WWW-Authenticate") || "");
  return Boolean(match) && /revoked|ended|no longer valid/i.test(match[1]);
}

/** The challenge's `max_age` (seconds), or null. */
function challengeMaxAge(response) {
  const match = /max_age="?(\d+)"?/.exec(response.headers.get("WWW-Authenticate") || "");
  return match ? Number(match[1]) : null;
}

/** Whether stepping up takes a code (two-step verification on) rather than the password. A
 * wrong guess costs little: the dialog switches when the server says a code is needed. */
async function stepUpTakesCode() {
  try {
    return (await api.mfaStatus()).totp === "on";
  } catch {
    return false;
  }
}

/** Whether the user has a passkey that can step up (one not flagged), in a browser that can use it. */
async function stepUpCanUsePasskey() {
  if (!passkeysSupported()) return false;
  try {
    return (await api.listPasskeys()).items.some((passkey) => !passkey.flagged);
  } catch {
    return false;
  }
}

/** A passkey's proof for `POST /v1/auth/step-up`: options for this session's step-up (bearer),
 * then the browser's prompt. Throws the browser's DOMException if the user closes it. */
async function passkeyStepUpProof() {
  const options = await request("POST", "/v1/auth/passkey/options");
  return { challenge_id: options.challenge_id, credential: await getPasskey(options.publicKey) };
}

/** What a failed refresh means for the call: the session is over (`refresh()` has signed every
 * tab out, and says why), or auth could not answer just now (a retry may work). */
function refreshFailure(error) {
  if (error instanceof AuthError && error.sessionEnded) {
    return new ApiError("Your session has ended. Please sign in again.", { status: 401, sessionEnded: true });
  }
  if (error instanceof AuthError) return new ApiError(error.message, { status: error.status, code: error.code });
  return new ApiError(UNREACHABLE, { code: "network" }); // fetch's TypeError: no answer at all
}

/**
 * await request("POST", "/v1/orders", { body: {...}, headers: { "Idempotency-Key": key } })
 *
 * Returns the parsed JSON (null for an answer without a body: 204, most 202s). On a 401
 * `invalid_token` it refreshes the access token once (shared with every other caller and tab)
 * and retries; if that refresh fails the session is over. On a 401
 * `insufficient_user_authentication` (RFC 9470) it asks the user to authenticate again (the
 * step-up dialog) and retries once; a refresh would not help there. `csrf: true` adds the
 * `X-CSRF-Token` header (auth asks it of web sessions changing two-step verification). Any
 * other 401 is the caller's to show: only `invalid_token` (or no token at all) is refreshed.
 */
export async function request(method, path, options = {}) {
  let response = await send(method, path, options);
  let refreshed = false;
  let steppedUp = false;
  while (response.status === 401) {
    const error = challengeError(response);
    if (error === "insufficient_user_authentication") {
      // a valid token whose sign-in is too old for this operation: refreshing keeps auth_time
      if (steppedUp) break;
      steppedUp = true;
      const [withCode, withPasskey] = await Promise.all([stepUpTakesCode(), stepUpCanUsePasskey()]);
      const stepped = await askToAuthenticateAgain({
        maxAge: challengeMaxAge(response),
        withCode,
        withPasskey: withPasskey ? passkeyStepUpProof : null,
        stepUp,
      });
      if (!stepped) throw new ApiError("This needs you to confirm it is you.", { status: 401 });
    } else if (error === "invalid_token" || error === null) {
      // a token that is expired, revoked or missing (RFC 6750: no error without credentials)
      if (refreshed) break;
      refreshed = true;
      try {
        await refresh({ revoked: saysRevoked(response) });
      } catch (error) {
        throw refreshFailure(error);
      }
    } else {
      break; // a 401 a new token cannot fix (a wrong code, say): the caller shows it
    }
    response = await send(method, path, options);
  }
  if (!response.ok) throw await errorFrom(response);
  const text = await response.text(); // 204, and a 202 that only says "accepted", have no body
  return text ? JSON.parse(text) : null;
}

export const api = {
  me: () => request("GET", "/v1/users/me"),
  register: (email, password) => request("POST", "/v1/users", { body: { email, password } }),
  verifyEmail: (token) => request("POST", "/v1/users/verify-email", { body: { token } }),
  resendVerification: (email) => request("POST", "/v1/users/verify-email/resend", { body: { email } }),
  requestPasswordReset: (email) => request("POST", "/v1/auth/password-reset", { body: { email } }),
  confirmPasswordReset: (token, newPassword) =>
    request("POST", "/v1/auth/password-reset/confirm", { body: { token, new_password: newPassword } }),
  changePassword: (currentPassword, newPassword) =>
    request("POST", "/v1/users/me/password", {
      body: { current_password: currentPassword, new_password: newPassword },
    }),
  /** Two-step verification (TOTP): `{ totp: "off" | "pending" | "on", recovery_codes_left }`. */
  mfaStatus: () => request("GET", "/v1/users/me/mfa"),
  /** A new pending secret: `{ secret, otpauth_uri, qr_svg }`. */
  startTotp: () => request("POST", "/v1/users/me/mfa/totp", { csrf: true }),
  /** Turns TOTP on with a first code; the session is now at the MFA level (the new access
   * token says so, and replaces the old one). Returns the recovery codes, shown once. */
  async confirmTotp(code) {
    const answer = await request("POST", "/v1/users/me/mfa/totp/confirm", { body: { code }, csrf: true });
    adoptAccessToken(answer.access_token);
    return answer.recovery_codes;
  },
  turnOffTotp: () => request("DELETE", "/v1/users/me/mfa/totp", { csrf: true }),
  /** Ten new recovery codes (the old ones stop working), shown once. */
  newRecoveryCodes: async () => (await request("POST", "/v1/users/me/mfa/recovery-codes", { csrf: true })).recovery_codes,
  /** The user's passkeys: `{ items: [{ id, name, created_at, last_used_at, synced, flagged }] }`. */
  listPasskeys: () => request("GET", "/v1/users/me/passkeys"),
  /** Creation options for a new passkey, `{ challenge_id, publicKey }` (a sign-in within 5
   * minutes: else the step-up dialog, then the retry). */
  passkeyCreationOptions: () => request("POST", "/v1/users/me/passkeys/options"),
  /** Stores the passkey `credential` (its JSON) made for `challengeId`; the new passkey. */
  addPasskey: (challengeId, credential, name) =>
    request("POST", "/v1/users/me/passkeys", { body: { challenge_id: challengeId, credential, name } }),
  removePasskey: (id) => request("DELETE", `/v1/users/me/passkeys/${encodeURIComponent(id)}`),
  listOrders: () => request("GET", "/v1/orders"),
  createOrder: (order, idempotencyKey) =>
    request("POST", "/v1/orders", { body: order, headers: { "Idempotency-Key": idempotencyKey } }),
  payOrder: (id) => request("POST", `/v1/orders/${encodeURIComponent(id)}/pay`),
  cancelOrder: (id) => request("POST", `/v1/orders/${encodeURIComponent(id)}/cancel`),
  listInvoices: () => request("GET", "/v1/invoices"),
  listSessions: () => request("GET", "/v1/sessions"),
  revokeSession: (id) => request("DELETE", `/v1/sessions/${encodeURIComponent(id)}`),
  /** Ends every session of the user, then signs every tab out. */
  async logoutEverywhere() {
    await request("POST", "/v1/auth/logout-all");
    sessionEnded(SignOutReason.LOGOUT_ALL);
  },
};
