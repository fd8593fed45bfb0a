"""Every error the auth service raises on purpose, and the one place they become HTTP answers.

The tree::

    AuthServiceError                   base; never raised itself
    ├── InvalidCredentialsError        login with an unknown email or a wrong password  → 401
    ├── WrongCurrentPasswordError      password change by a signed-in caller whose
    │                                  current password is wrong                        → 403
    ├── EmailAlreadyRegisteredError    register with an email taken (case-insensitively) → 409
    ├── UserNotFoundError              a user id (from the CLI or a token) matches no user → 404
    ├── StaleTokenError                a valid token for a deleted user, an old `ver`, or an
    │                                  ended session                                    → 401
    ├── SessionNotFoundError           a session id that is not one of the caller's live ones → 404
    ├── SessionMismatchError           logout whose refresh token is not of the bearer
    │                                  token's session                                  → 403
    ├── ForbiddenRequestError          a browser request failing the CSRF/origin checks  → 403
    ├── RateLimitedError               too many attempts; carries Retry-After           → 429
    └── KeyStoreError                  signing keys cannot be loaded or stored; start-up fails
        └── KeyEncryptionKeyError      the key-encryption key is missing, malformed or wrong

Domain code raises these; `install_error_handlers` maps them to RFC 9457 problem+json once, so route
handlers never catch anything. Token failures (`StaleTokenError`) answer with an RFC 6750
`WWW-Authenticate: Bearer error="invalid_token"` challenge like the shared verifier does. A
401 means "these credentials are no good" and clients refresh and retry on it, so a refusal that
a new token cannot fix, made to a caller whose token is fine, is a 403.

The one exception is the token endpoint, which answers RFC 6749 JSON (DESIGN §10): it catches
the errors that can reach it there (rate limits, the CSRF/origin checks) for every grant and
answers `oauth_error_response(exc)`, each class naming its RFC 6749 code in `oauth_error`.
"""

from __future__ import annotations

from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from tessera import bearer_challenge, problem_response


class AuthServiceError(Exception):
    """Base of the tree; carries the human-readable detail shown to clients."""

    status_code = 500
    title = "Internal Server Error"
    # the RFC 6749 §5.2 `error` code when this is answered by the token endpoint
    oauth_error: ClassVar[str] = "invalid_request"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail


class InvalidCredentialsError(AuthServiceError):
    """Raised by login for any bad credential; one message, so it reveals no account."""

    status_code = 401
    title = "Unauthorized"

    def __init__(self) -> None:
        super().__init__("invalid email or password")


class WrongCurrentPasswordError(AuthServiceError):
    """Raised by password change when the current password is wrong.

    403, not 401: the caller did authenticate (a valid bearer token); it is the action that is
    refused. A 401 would tell clients their token is bad and set off a pointless refresh-and-retry.
    """

    status_code = 403
    title = "Forbidden"

    def __init__(self) -> None:
        super().__init__("the current password is wrong")


class EmailAlreadyRegisteredError(AuthServiceError):
    """Raised by registration when the email is already taken, ignoring case."""

    status_code = 409
    title = "Conflict"

    def __init__(self) -> None:
        super().__init__("an account with this email already exists")


class UserNotFoundError(AuthServiceError):
    """Raised when a user id matches no user."""

    status_code = 404
    title = "Not Found"


class StaleTokenError(AuthServiceError):
    """Raised when a well-signed token names a user that is gone or has a newer token version."""

    status_code = 401
    title = "Unauthorized"


class SessionNotFoundError(AuthServiceError):
    """Raised for a session that does not exist, is not the caller's, or has ended."""

    status_code = 404
    title = "Not Found"


class SessionMismatchError(AuthServiceError):
    """Raised by logout when a bearer token and a refresh token do not name the same session.

    A bearer token ends its own session; the refresh token in the body only confirms which one.
    A refresh token of another session (or next to a bearer token without `sid`) is refused, so
    one credential can never be used to end a session that another credential names.
    """

    status_code = 403
    title = "Forbidden"

    def __init__(self) -> None:
        super().__init__("the refresh token does not belong to this access token's session")


class ForbiddenRequestError(AuthServiceError):
    """Raised when a cookie-authenticated request fails the CSRF, Origin or Sec-Fetch checks."""

    status_code = 403
    title = "Forbidden"
    # At the token endpoint: `invalid_request`, because what is wrong is the request (no or a
    # foreign X-CSRF-Token, another site's Origin), i.e. a missing or invalid parameter.
    # `unauthorized_client` would say the web client may not use the refresh grant at all, a
    # configuration error, which it is not. The status stays 403 rather than RFC 6749's usual
    # 400: it is a refusal of where the request came from, and the SPA and the demo rely on it.
    oauth_error: ClassVar[str] = "invalid_request"


class RateLimitedError(AuthServiceError):
    """Raised when a caller must wait; `retry_after` seconds (a back-off, never a lock-out)."""

    status_code = 429
    title = "Too Many Requests"
    # At the token endpoint: `temporarily_unavailable` (RFC 6749 §4.1.2.1: "cannot handle the
    # request ... temporary overloading"), which the endpoint already answers with its 503: wait
    # and retry the same token, nothing was consumed. `invalid_grant` would make clients drop a
    # healthy session (the mobile client forgets it), `invalid_request` would call a good
    # request malformed, and `slow_down` is RFC 8628's device-polling code.
    oauth_error: ClassVar[str] = "temporarily_unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; retry after {retry_after} s")
        self.retry_after = max(1, retry_after)


class KeyStoreError(AuthServiceError):
    """Raised when signing keys cannot be loaded or stored."""


class KeyEncryptionKeyError(KeyStoreError):
    """Raised when the key-encryption key is missing, malformed, or does not open a stored key."""


def _problem(exc: AuthServiceError) -> Response:
    headers = {}
    if isinstance(exc, StaleTokenError):
        headers["WWW-Authenticate"] = bearer_challenge(
            "invalid_token", error_description=exc.detail or exc.title
        )
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(exc.status_code, exc.title, exc.detail, headers=headers)


def oauth_error_response(exc: AuthServiceError) -> JSONResponse:
    """The token endpoint's form of `exc`: RFC 6749 §5.2 JSON, never cached (DESIGN §10).

    The status and Retry-After are kept: clients branch on them (the SPA signs out on 400, 401
    and 403 from a refresh, but waits on 429).
    """
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    body = {"error": exc.oauth_error, "error_description": exc.detail or exc.title}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map the whole tree to problem+json; start-up errors (KeyStoreError) never reach here."""

    async def handle(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthServiceError)
        return _problem(exc)

    app.add_exception_handler(AuthServiceError, handle)
