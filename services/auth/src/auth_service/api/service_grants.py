"""The token endpoint's service grants: `client_credentials` and RFC 8693 token exchange.

The token endpoint (`POST /v1/auth/token`) dispatches on `grant_type`; these two handlers read
the client's credentials and the grant's parameters, run one use case of `ServiceGrants`, and
answer the token response (errors are `api/errors.py`'s RFC 6749 JSON).

Client authentication (RFC 6749 §2.3.1): HTTP Basic (id and secret form-urlencoded, then
base64) or `client_id` + `client_secret` in the body; both at once is `invalid_request`, a bad
one is 401 `invalid_client` with a `WWW-Authenticate: Basic` challenge. Failed client
authentications are rate limited per IP (`CLIENT_AUTH_FAILURE_RATE_LIMIT_PER_IP`): over the
limit, 429 `temporarily_unavailable`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from fastapi import Request
from fastapi.responses import JSONResponse

from auth_service.api.deps import get_runtime
from auth_service.api.errors import NO_STORE
from auth_service.api.request_context import client_ip
from auth_service.domain.client_credentials import CLIENT_CREDENTIALS
from auth_service.domain.service_clients import ServiceClient
from auth_service.domain.token_exchange import TOKEN_EXCHANGE, ExchangeRequest
from auth_service.errors import InvalidClientError, InvalidRequestError

GrantHandler = Callable[[Request, Mapping[str, str]], Awaitable[JSONResponse]]


def client_credentials_of(authorization: str | None, params: Mapping[str, str]) -> tuple[str, str]:
    """(client id, secret) from HTTP Basic or the body; the RFC error when absent or ambiguous."""
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        if body_secret is not None:
            raise InvalidRequestError("use one client authentication: HTTP Basic or client_secret")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClientError("malformed HTTP Basic credentials") from None
        raw_id, colon, raw_secret = decoded.partition(":")
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if not colon or not client_id:
            raise InvalidClientError("malformed HTTP Basic credentials")
        if body_id is not None and body_id != client_id:
            raise InvalidRequestError("client_id does not match the HTTP Basic credentials")
        return client_id, secret
    if body_id and body_secret:
        return body_id, body_secret
    raise InvalidClientError("client authentication required")


def token_response(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers=NO_STORE)


async def _authenticated_client(request: Request, params: Mapping[str, str]) -> ServiceClient:
    runtime = get_runtime(request)
    ip = client_ip(request) or "unknown"
    return await runtime.service_grants.authenticate(
        lambda: client_credentials_of(request.headers.get("authorization"), params), ip=ip
    )


async def client_credentials_grant(request: Request, params: Mapping[str, str]) -> JSONResponse:
    """`grant_type=client_credentials`: the calling service's own token."""
    client = await _authenticated_client(request, params)
    result = get_runtime(request).service_grants.client_credentials(
        client, audience=params.get("audience"), scope=params.get("scope")
    )
    return token_response(
        {
            "access_token": result.token.token,
            "token_type": "Bearer",
            "expires_in": result.token.expires_in,
            "scope": " ".join(result.scopes),
        }
    )


async def token_exchange_grant(request: Request, params: Mapping[str, str]) -> JSONResponse:
    """`grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693)."""
    client = await _authenticated_client(request, params)
    result = await get_runtime(request).service_grants.exchange(
        client,
        ExchangeRequest(
            subject_token=params.get("subject_token"),
            subject_token_type=params.get("subject_token_type"),
            audience=params.get("audience"),
            scope=params.get("scope"),
            requested_token_type=params.get("requested_token_type"),
            actor_token=params.get("actor_token"),
        ),
    )
    return token_response(
        {
            "access_token": result.token.token,
            "issued_token_type": result.issued_token_type,
            "token_type": "Bearer",
            "expires_in": result.token.expires_in,
            "scope": " ".join(result.scopes),
        }
    )


SERVICE_GRANTS: dict[str, GrantHandler] = {
    CLIENT_CREDENTIALS: client_credentials_grant,
    TOKEN_EXCHANGE: token_exchange_grant,
}
