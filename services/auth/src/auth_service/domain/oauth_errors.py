"""The token endpoint's errors (RFC 6749 §5.2, RFC 8693 §2.2.2), raised by grant logic.

The tree::

    OAuthError                   base: `error` code, description, HTTP status
    ├── InvalidRequestError      malformed: missing parameter, two client auths   (400)
    ├── InvalidClientError       client authentication failed                     (401)
    ├── InvalidGrantError        refresh/subject token invalid, expired, revoked  (400)
    ├── UnauthorizedClientError  the client may not use this grant type           (400)
    ├── InvalidTargetError       the requested audience is not allowed (RFC 8693) (400)
    └── InvalidScopeError        no requested scope may be granted                (400)

These are answered as `{"error", "error_description"}` JSON, never problem+json (DESIGN §10);
`InvalidClientError` also carries a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2).
Descriptions are for developers; they never contain a secret or a token.
"""

from __future__ import annotations

from typing import ClassVar


class OAuthError(Exception):
    """Base of the tree; `error` is the RFC code, `status_code` the HTTP status."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str) -> None:
        super().__init__(f"{self.error}: {description}")
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store", "Pragma": "no-cache"}


class InvalidRequestError(OAuthError):
    error = "invalid_request"


class InvalidClientError(OAuthError):
    error = "invalid_client"
    status_code = 401

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "WWW-Authenticate": 'Basic realm="tessera"'}


class InvalidGrantError(OAuthError):
    error = "invalid_grant"


class UnauthorizedClientError(OAuthError):
    error = "unauthorized_client"


class InvalidTargetError(OAuthError):
    error = "invalid_target"


class InvalidScopeError(OAuthError):
    error = "invalid_scope"
