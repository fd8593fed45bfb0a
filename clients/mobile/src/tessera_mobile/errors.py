"""Everything the mobile client raises, so an app (or the CLI) can answer each case differently.

MobileClientError                  base; str() is a one-line message fit for a user
 ├── NotSignedInError              no refresh token stored: the user must sign in
 ├── SessionExpiredError           the server refused the refresh token (invalid_grant):
 │                                 the store has been cleared, the user must sign in again
 ├── TokenRefreshError             the token endpoint failed for another reason (5xx,
 │                                 invalid_client, malformed answer); the stored token is kept
 ├── TokenStoreError               the refresh-token file cannot be trusted or written
 │    └── InsecureTokenFileError   the file is readable by others (mode wider than 0600)
 ├── ApiError                      a non-2xx answer from a Tessera API (problem+json parsed)
 └── ServiceUnreachableError       nothing answers at the base URL (connection refused, DNS)
"""

from __future__ import annotations


class MobileClientError(Exception):
    """Base class; the message is one line a person can act on."""


class NotSignedInError(MobileClientError):
    """Raised when a request needs a session but the store holds no refresh token."""

    def __init__(self) -> None:
        super().__init__("not signed in: sign in first (tessera-mobile login)")


class SessionExpiredError(MobileClientError):
    """Raised when the token endpoint answers invalid_grant; the store is already cleared.

    The session ended on the server: logged out elsewhere, revoked, expired, or the stored token
    was rotated by a refresh whose answer never reached us and the grace window has passed.
    """

    def __init__(self, description: str | None = None) -> None:
        message = "signed out: sign in again"
        if description:
            message = f"{message} ({description})"
        super().__init__(message)
        self.description = description


class TokenRefreshError(MobileClientError):
    """Raised when a refresh fails for a reason that does not end the session."""


class TokenStoreError(MobileClientError):
    """Raised when the refresh-token file cannot be read or written safely."""


class InsecureTokenFileError(TokenStoreError):
    """Raised instead of reading a token file other users could read or write."""


class ApiError(MobileClientError):
    """A Tessera API answered with an error; fields come from its problem+json body."""

    def __init__(self, status: int, title: str, detail: str | None = None) -> None:
        message = f"{status} {title}" + (f": {detail}" if detail else "")
        super().__init__(message)
        self.status = status
        self.title = title
        self.detail = detail


class ServiceUnreachableError(MobileClientError):
    """Raised when no server answers at the configured base URL."""

    def __init__(self, base_url: str) -> None:
        super().__init__(f"cannot reach Tessera at {base_url}: is `make run` running?")
        self.base_url = base_url
