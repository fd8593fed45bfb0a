"""One request to auth's token endpoint as a confidential client, and its RFC 6749 errors.

Client authentication is HTTP Basic as RFC 6749 §2.3.1 says: client id and secret are each
form-urlencoded, then joined with ":" and base64-encoded. The secret never appears in an error,
a log line or a repr.

```
TokenEndpointError        the endpoint refused or could not be reached; `error` is the RFC 6749 code
├── ServiceAuthError      a client_credentials grant failed (tessera.service_tokens)
└── TokenExchangeError    an RFC 8693 token exchange failed (tessera.token_exchange)
```
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"


class TokenEndpointError(Exception):
    """Raised when the token endpoint answers with an error or cannot be reached.

    `error` is the RFC 6749 / RFC 8693 error code (`invalid_client`, `invalid_grant`, ...), or
    `temporarily_unavailable` when auth could not be reached or answered garbage; `status_code`
    is auth's HTTP status (None when there was no answer).
    """

    def __init__(self, error: str, description: str | None, status_code: int | None) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        detail = f": {description}" if description else ""
        super().__init__(f"token endpoint error {error}{detail}")


class ServiceAuthError(TokenEndpointError):
    """Raised when this service cannot obtain its own access token (client_credentials)."""


class TokenExchangeError(TokenEndpointError):
    """Raised when a token exchange fails.

    `invalid_grant` means the subject token was refused (expired, revoked, not a user token):
    the caller should answer 401. Anything else is a problem between services: 503-ish.
    """

    @property
    def subject_token_rejected(self) -> bool:
        """Whether auth refused the user's token itself (answer 401, not 503)."""
        return self.error == "invalid_grant"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A successful token response: the token and its lifetime in seconds (None if unsaid)."""

    access_token: str
    expires_in: float | None
    issued_token_type: str | None


def basic_client_auth(client_id: str, client_secret: str) -> str:
    """The `Authorization` header value for HTTP Basic client authentication (RFC 6749 §2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


async def request_token(
    client: httpx.AsyncClient,
    *,
    token_url: str,
    authorization: str,
    form: Mapping[str, str],
    error_class: type[TokenEndpointError],
) -> IssuedToken:
    """POST `form` to the token endpoint; the issued token, or `error_class` with the RFC code."""
    try:
        response = await client.post(
            token_url,
            data=dict(form),
            headers={"Authorization": authorization, "Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise error_class(
            TEMPORARILY_UNAVAILABLE, f"auth unreachable ({type(exc).__name__})", None
        ) from None
    body = _json_body(response)
    if response.status_code != httpx.codes.OK:
        error = body.get("error") if body is not None else None
        description = body.get("error_description") if body is not None else None
        if not isinstance(error, str) or not error:
            error = TEMPORARILY_UNAVAILABLE if response.status_code >= 500 else "invalid_request"
        raise error_class(
            error,
            description if isinstance(description, str) else None,
            response.status_code,
        )
    return _issued_token(body, response.status_code, error_class)


def _json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _issued_token(
    body: dict[str, Any] | None, status_code: int, error_class: type[TokenEndpointError]
) -> IssuedToken:
    def malformed(what: str) -> TokenEndpointError:
        return error_class(
            TEMPORARILY_UNAVAILABLE, f"malformed token response: {what}", status_code
        )

    if body is None:
        raise malformed("not a JSON object")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise malformed("no access_token")
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise malformed("token_type is not Bearer")
    expires_in = body.get("expires_in")
    if expires_in is not None and (
        isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in < 0
    ):
        raise malformed("expires_in is not a number of seconds")
    issued_type = body.get("issued_token_type")
    return IssuedToken(
        access_token=token,
        expires_in=float(expires_in) if expires_in is not None else None,
        issued_token_type=issued_type if isinstance(issued_type, str) else None,
    )


def refresh_margin(lifetime: float, *, max_margin: float = 60.0, fraction: float = 0.1) -> float:
    """How long before expiry a cached token is replaced: min(60 s, 10 % of its lifetime)."""
    return min(max_margin, lifetime * fraction)
