"""Every error the auth service raises on purpose, in one tree; `api/errors.py` answers them.

The tree::

    AuthServiceError                   base; never raised itself
    ├── InvalidCredentialsError        login with an unknown email or a wrong password  → 401
    ├── WrongCurrentPasswordError      password change by a signed-in caller whose
    │                                  current password is wrong                        → 403
    ├── EmailAlreadyRegisteredError    an email taken (case-insensitively); registration
    │                                  answers 202 anyway, only the CLI sees this       → 409
    ├── EmailNotVerifiedError          login with the right password to an account whose
    │                                  address is not verified (EMAIL_VERIFICATION=required) → 403
    ├── InvalidEmailTokenError         a verification or reset token that is unknown, used,
    │                                  expired or malformed (one text for all)          → 400
    ├── MfaRequiredError               the right password to an account with MFA on: carries
    │                                  the `mfa_token` of the second step               → 401
    ├── MfaCodeInvalidError            a wrong, reused or expired code at the second step → 401
    ├── MfaTokenInvalidError           an `mfa_token` unknown, used, expired, of another
    │                                  client, or dead after too many wrong codes       → 401
    ├── StepUpRefusedError             a step-up or MFA confirmation with the wrong
    │   │                              credentials (the caller is signed in)            → 403
    │   └── StepUpMethodError          a step-up with the wrong kind (a password where
    │                                  only a code counts, or the reverse); `methods`   → 403
    ├── MfaStateError                  an MFA change that does not fit the account's state
    │                                  (enrol while on, confirm with nothing pending)   → 409
    ├── MfaNotEnrolledError            disabling a factor that is not there             → 404
    ├── PasskeyRejectedError           a passkey ceremony's answer that is malformed, from
    │                                  another origin or RP, or for a challenge that is
    │                                  unknown, used or expired                         → 400
    ├── PasskeySignInError             a passkey sign-in that fails: unknown credential,
    │                                  another's, a bad signature, a counter going back  → 401
    ├── PasskeyNotFoundError           deleting a passkey that is not one of the caller's → 404
    ├── UserNotFoundError              a user id (from the CLI or a token) matches no user → 404
    ├── StaleTokenError                a valid token for a deleted user, an old `ver`, or an
    │                                  ended session                                    → 401
    ├── SessionNotFoundError           a session id that is not one of the caller's live ones → 404
    ├── SessionMismatchError           logout whose refresh token is not of the bearer
    │                                  token's session                                  → 403
    ├── ForbiddenRequestError          a browser request failing the CSRF/origin checks  → 403
    ├── RateLimitedError               too many attempts; carries Retry-After           → 429
    ├── MalformedCursorError           a revocation-feed cursor the feed never issued   → 400
    ├── CursorExpiredError             a feed cursor older than the pruned history      → 410
    ├── OAuthError                     the token endpoint's own refusals (RFC 6749 §5.2,
    │   │                              RFC 8693 §2.2.2), raised by the grants
    │   ├── InvalidRequestError        malformed: missing parameter, two client auths   → 400
    │   ├── InvalidClientError         client authentication failed (Basic challenge)   → 401
    │   ├── InvalidGrantError          refresh/subject token invalid, expired, revoked  → 400
    │   ├── UnauthorizedClientError    the client may not use this grant type           → 400
    │   ├── UnsupportedGrantTypeError  a grant_type the endpoint does not know          → 400
    │   ├── InvalidTargetError         the requested audience is not allowed (RFC 8693) → 400
    │   └── InvalidScopeError          no requested scope may be granted                → 400
    └── KeyStoreError                  signing keys cannot be loaded or stored; start-up fails
        └── KeyEncryptionKeyError      the key-encryption key is missing, malformed or wrong

This module imports no framework: each class says how it is answered, and `api/errors.py` maps
the tree once, to RFC 9457 problem+json everywhere but the token endpoint, which answers every
error, these and the storage failures, as RFC 6749 `{"error", "error_description"}` JSON with
`Cache-Control: no-store` (DESIGN §10), each class naming its code in `oauth_error`. Token
failures (`StaleTokenError`) carry an RFC 6750 `WWW-Authenticate: Bearer error="invalid_token"`
challenge like the shared verifier's. A 401 means "these credentials are no good" and clients
refresh and retry on it, so a refusal that a new token cannot fix, made to a caller whose token
is fine, is a 403. Descriptions are for people; they never contain a secret or a token.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tessera.errors import ServiceError
from tessera.tokens.challenges import bearer_challenge


class AuthServiceError(ServiceError):
    """Base of the tree; `detail` is the human-readable text shown to clients."""

    oauth_error: ClassVar[str] = "invalid_request"
    """The RFC 6749 §5.2 `error` code when the token endpoint answers this."""

    def __init_subclass__(cls, *, oauth_error: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if oauth_error is not None:
            cls.oauth_error = oauth_error


class InvalidCredentialsError(AuthServiceError, http_status=401, title="Unauthorized"):
    """Raised by login for any bad credential; one message, so it reveals no account."""

    def __init__(self) -> None:
        super().__init__("invalid email or password")


class StepUpRefusedError(AuthServiceError, http_status=403, title="Forbidden"):
    """Raised by a step-up (or an MFA confirmation) whose credentials are wrong: 403, not 401
    (the caller is signed in; a new access token would not change the answer, so clients must
    not refresh on it). The detail says when another kind of credential is needed."""

    def __init__(self, detail: str = "the credentials are not right") -> None:
        super().__init__(detail)


class StepUpMethodError(StepUpRefusedError, problem_type="urn:tessera:problem:step-up-method"):
    """Raised by a step-up with the wrong kind of credential: a password where the account has
    a second factor (only the factor counts), or a code where it has none. `methods` says what
    the account takes, so a client can ask for that instead."""

    def __init__(self, detail: str, methods: tuple[str, ...]) -> None:
        super().__init__(detail)
        self.methods = methods

    def extensions(self) -> dict[str, Any]:
        return {"methods": list(self.methods)}


class PasskeyRejectedError(
    AuthServiceError,
    http_status=400,
    title="Bad Request",
    problem_type="urn:tessera:problem:passkey-rejected",
):
    """Raised for a passkey ceremony's answer that cannot be accepted: malformed, for another
    origin or relying party, without user verification, or for a challenge that is unknown,
    used, expired or of another ceremony. Nothing is stored."""


class PasskeySignInError(
    AuthServiceError,
    http_status=401,
    title="Unauthorized",
    problem_type="urn:tessera:problem:passkey-sign-in-refused",
):
    """Raised when a passkey does not sign the user in: an unknown credential, one of another
    user, a signature that does not verify, a counter that went backwards (a clone?)."""

    def __init__(self, detail: str = "the passkey could not sign you in") -> None:
        super().__init__(detail)


class PasskeyNotFoundError(AuthServiceError, http_status=404, title="Not Found"):
    """Raised for a passkey id that is not one of the caller's."""


class MfaRequiredError(
    AuthServiceError,
    http_status=401,
    title="MFA required",
    problem_type="urn:tessera:problem:mfa-required",
):
    """Raised by login after the right password to an account with a second factor: the body
    carries the single-use `mfa_token` for `POST /v1/auth/login/mfa` and the methods it takes.
    No `WWW-Authenticate`: this is no bearer-token failure, and no session exists yet."""

    def __init__(self, mfa_token: str, methods: tuple[str, ...]) -> None:
        super().__init__("enter a code from your authenticator app (or a recovery code)")
        self.mfa_token = mfa_token
        self.methods = methods

    def __repr__(self) -> str:  # never the token
        return "MfaRequiredError()"

    def extensions(self) -> dict[str, Any]:
        return {"mfa_token": self.mfa_token, "methods": list(self.methods)}


class MfaCodeInvalidError(
    AuthServiceError,
    http_status=401,
    title="Unauthorized",
    problem_type="urn:tessera:problem:mfa-code-invalid",
):
    """Raised at the second login step for a code that is wrong, already used or out of its
    window; the `mfa_token` stays usable until its wrong-code budget is spent."""

    def __init__(self) -> None:
        super().__init__("the code is not right")


class MfaTokenInvalidError(
    AuthServiceError,
    http_status=401,
    title="Unauthorized",
    problem_type="urn:tessera:problem:mfa-token-invalid",
):
    """Raised for an `mfa_token` that cannot be used (one text for every cause): the client
    starts the login again."""

    def __init__(self) -> None:
        super().__init__("the sign-in expired or was already completed: sign in again")


class MfaStateError(AuthServiceError, http_status=409, title="Conflict"):
    """Raised for an MFA change the account's state does not allow (enrolling while a factor
    is on, confirming with nothing pending, new recovery codes without a factor)."""


class MfaNotEnrolledError(AuthServiceError, http_status=404, title="Not Found"):
    """Raised when disabling a second factor that is not there."""


class WrongCurrentPasswordError(AuthServiceError, http_status=403, title="Forbidden"):
    """Raised by password change when the current password is wrong.

    403, not 401: the caller did authenticate (a valid bearer token); it is the action that is
    refused. A 401 would tell clients their token is bad and set off a pointless refresh-and-retry.
    """

    def __init__(self) -> None:
        super().__init__("the current password is wrong")


class EmailAlreadyRegisteredError(AuthServiceError, http_status=409, title="Conflict"):
    """Raised by registration when the email is already taken, ignoring case."""

    def __init__(self) -> None:
        super().__init__("an account with this email already exists")


class UserNotFoundError(AuthServiceError, http_status=404, title="Not Found"):
    """Raised when a user id matches no user."""


class StaleTokenError(AuthServiceError, http_status=401, title="Unauthorized"):
    """Raised when a well-signed token names a user that is gone or has a newer token version."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.www_authenticate = bearer_challenge("invalid_token", error_description=detail)


class SessionNotFoundError(AuthServiceError, http_status=404, title="Not Found"):
    """Raised for a session that does not exist, is not the caller's, or has ended."""


class SessionMismatchError(AuthServiceError, http_status=403, title="Forbidden"):
    """Raised by logout when a bearer token and a refresh token do not name the same session.

    A bearer token ends its own session; the refresh token in the body only confirms which one.
    A refresh token of another session (or next to a bearer token without `sid`) is refused, so
    one credential can never be used to end a session that another credential names.
    """

    def __init__(self) -> None:
        super().__init__("the refresh token does not belong to this access token's session")


class ForbiddenRequestError(AuthServiceError, http_status=403, title="Forbidden"):
    """Raised when a cookie-authenticated request fails the CSRF, Origin or Sec-Fetch checks.

    At the token endpoint: `invalid_request`, because what is wrong is the request (no or a
    foreign X-CSRF-Token, another site's Origin), i.e. a missing or invalid parameter.
    `unauthorized_client` would say the web client may not use the refresh grant at all, a
    configuration error, which it is not. The status stays 403 rather than RFC 6749's usual
    400: it is a refusal of where the request came from, and the SPA and the demo rely on it.
    """


class EmailNotVerifiedError(
    AuthServiceError,
    http_status=403,
    title="Email not verified",
    problem_type="urn:tessera:problem:email-not-verified",
):
    """Raised after the password checked out, for an account whose address is unverified.

    403, not 401: the credentials are right, and a new token would not change the answer. It
    comes only after the password, so it tells nothing to someone who does not know it.
    """

    def __init__(
        self, detail: str = "confirm your email address first: use the link we mailed you"
    ) -> None:
        super().__init__(detail)


class InvalidEmailTokenError(AuthServiceError, http_status=400, title="Bad Request"):
    """Raised for any verification or reset token that cannot be used, with one text."""

    def __init__(self) -> None:
        super().__init__("the link is invalid or has expired")


class RateLimitedError(
    AuthServiceError,
    http_status=429,
    title="Too Many Requests",
    oauth_error="temporarily_unavailable",
):
    """Raised when a caller must wait `retry_after` seconds (a back-off, never a lock-out).

    At the token endpoint: `temporarily_unavailable` (RFC 6749 §4.1.2.1: "cannot handle the
    request ... temporary overloading"), which the endpoint also answers with its 503: wait and
    retry the same token, nothing was consumed. `invalid_grant` would make clients drop a
    healthy session (the mobile client forgets it), `invalid_request` would call a good request
    malformed, and `slow_down` is RFC 8628's device-polling code.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; retry after {retry_after} s")
        self.retry_after = max(1, retry_after)


class MalformedCursorError(AuthServiceError, http_status=400, title="Bad Request"):
    """Raised for a revocation-feed cursor that this feed never issued."""


class CursorExpiredError(AuthServiceError, http_status=410, title="Gone"):
    """Raised when a feed cursor can no longer be resumed from (pruned past it, or unknown):
    the watcher lists again."""


class OAuthError(AuthServiceError, http_status=400, title="Bad Request"):
    """Base of the token endpoint's refusals; `oauth_error` is the RFC code."""


class InvalidRequestError(OAuthError):
    """Raised for a malformed token request (a parameter missing, repeated, or ambiguous)."""


class InvalidClientError(
    OAuthError, http_status=401, title="Unauthorized", oauth_error="invalid_client"
):
    """Raised when client authentication fails; carries the Basic challenge (RFC 6749 §5.2)."""

    www_authenticate = 'Basic realm="tessera"'


class InvalidGrantError(OAuthError, oauth_error="invalid_grant"):
    """Raised when a refresh or subject token is invalid, expired, revoked or reused."""


class UnauthorizedClientError(OAuthError, oauth_error="unauthorized_client"):
    """Raised when the client may not use the grant it asked for."""


class UnsupportedGrantTypeError(OAuthError, oauth_error="unsupported_grant_type"):
    """Raised for a `grant_type` the token endpoint does not dispatch on."""


class InvalidTargetError(OAuthError, oauth_error="invalid_target"):
    """Raised when the requested audience is not one the client may have (RFC 8693)."""


class InvalidScopeError(OAuthError, oauth_error="invalid_scope"):
    """Raised when none of the requested scopes may be granted."""


class KeyStoreError(AuthServiceError):
    """Raised when signing keys cannot be loaded or stored."""


class KeyEncryptionKeyError(KeyStoreError):
    """Raised when the key-encryption key is missing, malformed, or does not open a stored key."""
