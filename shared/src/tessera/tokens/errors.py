"""Token errors, each mapped once to HTTP (RFC 6750) and gRPC status codes.

```
TokenError                      base class; never raised itself
├── MissingTokenError           no bearer token at all -> 401, bare `WWW-Authenticate: Bearer`
├── InvalidTokenError           any verification failure -> 401 `error="invalid_token"` /
│                               gRPC UNAUTHENTICATED
├── InsufficientScopeError      a valid token without a needed scope -> 403
│                               `error="insufficient_scope"` / gRPC PERMISSION_DENIED
└── InsufficientUserAuthenticationError
                                a valid token whose authentication is too old or too weak
                                for the operation (RFC 9470) -> 401
                                `error="insufficient_user_authentication"` with `max_age` /
                                `acr_values` / gRPC UNAUTHENTICATED with the same challenge
```
"""

from __future__ import annotations

from collections.abc import Iterable


class TokenError(Exception):
    """Base of every authentication and authorisation failure about a bearer token."""


class MissingTokenError(TokenError):
    """Raised when a request carries no bearer token (RFC 6750 §3.1: no error code)."""

    def __init__(self, description: str = "Authentication required") -> None:
        super().__init__(description)
        self.description = description


class InvalidTokenError(TokenError):
    """Raised when a token fails any check: malformed, forged, expired, revoked, ...

    `description` is safe to show the caller; `reason` is a short stable label for metrics.
    Neither ever contains the token.
    """

    def __init__(self, description: str, *, reason: str = "invalid") -> None:
        super().__init__(description)
        self.description = description
        self.reason = reason


class InsufficientScopeError(TokenError):
    """Raised when a valid token lacks a scope the operation needs."""

    def __init__(self, scopes: Iterable[str], description: str | None = None) -> None:
        self.scopes = tuple(scopes)
        self.description = description or f"This call needs the scope(s): {' '.join(self.scopes)}"
        super().__init__(self.description)


class InsufficientUserAuthenticationError(TokenError):
    """Raised when a valid token's authentication is older than `max_age` seconds or weaker than
    `acr_values` (RFC 9470). The client re-authenticates (a step-up) and retries; refreshing
    the token would not help, so clients refresh only on `invalid_token`."""

    def __init__(
        self, description: str, *, max_age: int | None = None, acr_values: str | None = None
    ) -> None:
        super().__init__(description)
        self.description = description
        self.max_age = max_age
        self.acr_values = acr_values

    @property
    def challenge_params(self) -> dict[str, str]:
        """The challenge's parameters beyond `error` (for `bearer_challenge`)."""
        params = {"error_description": self.description}
        if self.max_age is not None:
            params["max_age"] = str(self.max_age)
        if self.acr_values is not None:
            params["acr_values"] = self.acr_values
        return params
