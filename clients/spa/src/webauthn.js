// The browser's side of passkeys (WebAuthn): auth's options JSON in, the credential's JSON out.
//
// Auth sends `publicKey` options as JSON with base64url byte fields (`challenge`, `user.id`,
// `excludeCredentials[].id`, `allowCredentials[].id`); `navigator.credentials` wants
// ArrayBuffers there, and answers a PublicKeyCredential whose byte fields auth wants back as
// base64url. Browsers that have `PublicKeyCredential.parse…OptionsFromJSON()` and
// `credential.toJSON()` do both; older ones get the same conversion by hand.

/** Whether this browser can use passkeys at all (a secure context with WebAuthn). */
export function passkeysSupported() {
  return window.isSecureContext && typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

/** Whether a ceremony ended because the user closed or declined the browser's prompt (or it
 * timed out, or no passkey of this site was there): nothing went wrong, nothing to report. */
export function wasCancelled(error) {
  return !!error && (error.name === "NotAllowedError" || error.name === "AbortError");
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

function descriptors(list) {
  return (list || []).map((item) => ({ ...item, id: fromBase64url(item.id) }));
}

function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: fromBase64url(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

/** The fields every PublicKeyCredential's JSON has, for browsers without `toJSON()`. */
function commonJSON(credential, response) {
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
  };
}

function attestationJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const { response } = credential;
  return commonJSON(credential, {
    clientDataJSON: toBase64url(response.clientDataJSON),
    attestationObject: toBase64url(response.attestationObject),
    transports: typeof response.getTransports === "function" ? response.getTransports() : [],
  });
}

function assertionJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const { response } = credential;
  return commonJSON(credential, {
    clientDataJSON: toBase64url(response.clientDataJSON),
    authenticatorData: toBase64url(response.authenticatorData),
    signature: toBase64url(response.signature),
    userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
  });
}

/** A new passkey for auth's creation options (`publicKey` JSON); its JSON for auth. Throws the
 * browser's DOMException: see `wasCancelled`; `InvalidStateError` means this authenticator
 * holds one of the excluded passkeys (the user has one here already). */
export async function createPasskey(publicKey) {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(publicKey) });
  return attestationJSON(credential);
}

/** The user's passkey signing auth's request options (`publicKey` JSON); the assertion's JSON. */
export async function getPasskey(publicKey) {
  const credential = await navigator.credentials.get({ publicKey: requestOptions(publicKey) });
  return assertionJSON(credential);
}
