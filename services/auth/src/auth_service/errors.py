"""Every error the auth service raises on purpose, and the one place they become HTTP answers.

The tree::

    AuthServiceError                   base; never raised itself
    ├── InvalidCredentialsError        login with an unknown email or a wrong password  → 401
    ├── EmailAlreadyRegisteredError    register with an email taken (case-insensitively) → 409
    ├── UserNotFoundError              a user id (from the CLI or a token) matches no user → 404
    ├── StaleTokenError                a valid token for a deleted user, an old `ver`, or an
    │                                  ended session                                    → 401
    ├── SessionNotFoundError           a session id that is not one of the caller's live ones → 404
    ├── ForbiddenRequestError          a browser request failing the CSRF/origin checks  → 403
    ├── RateLimitedError               too many attempts; carries Retry-After           → 429
    └── KeyStoreError                  signing keys cannot be loaded or stored; start-up fails
        └── KeyEncryptionKeyError      the key-encryption key is missing, malformed or wrong

Domain code raises these; `install_error_handlers` maps them to RFC 9457 problem+json once, so route
handlers never catch anything. Token failures (`StaleTokenError`) answer with an RFC 6750
`WWW-Authenticate: Bearer error="invalid_token"` challenge like the shared verifier does.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from tessera import bearer_challenge, problem_response


class AuthServiceError(Exception):
    """Base of the tree; carries the human-readable detail shown to clients."""

    status_code = 500
    title = "Internal Server Error"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail


class InvalidCredentialsError(AuthServiceError):
    """Raised by login for any bad credential; one message, so it reveals no account."""

    status_code = 401
    title = "Unauthorized"

    def __init__(self) -> None:
        super().__init__("invalid email or password")


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


class ForbiddenRequestError(AuthServiceError):
    """Raised when a cookie-authenticated request fails the CSRF, Origin or Sec-Fetch checks."""

    status_code = 403
    title = "Forbidden"


class RateLimitedError(AuthServiceError):
    """Raised when a caller must wait; `retry_after` seconds (a back-off, never a lock-out)."""

    status_code = 429
    title = "Too Many Requests"

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


def install_error_handlers(app: FastAPI) -> None:
    """Map the whole tree to problem+json; start-up errors (KeyStoreError) never reach here."""

    async def handle(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthServiceError)
        return _problem(exc)

    app.add_exception_handler(AuthServiceError, handle)
