"""The token endpoint's service grants: `client_credentials` and RFC 8693 token exchange.

The token endpoint (`POST /v1/auth/token`) dispatches on `grant_type`; these two handlers take
the request (for the `Authorization` header) and its parameters, authenticate the client, run
the grant, and answer RFC 6749 JSON: a token response, or `{"error", "error_description"}`.

Client authentication (RFC 6749 §2.3.1): HTTP Basic (id and secret form-urlencoded, then
base64) or `client_id` + `client_secret` in the body; both at once is `invalid_request`, a bad
one is 401 `invalid_client` with a `WWW-Authenticate: Basic` challenge. Failed client
authentications are rate limited per IP (`CLIENT_AUTH_FAILURE_RATE_LIMIT_PER_IP`; only failures
count, so a busy service is never slowed): over the limit, 429 `temporarily_unavailable`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from fastapi import Request
from fastapi.responses import JSONResponse

from auth_service.api.client_context import request_context
from auth_service.domain.client_credentials import CLIENT_CREDENTIALS, issue_service_token
from auth_service.domain.oauth_errors import InvalidClientError, InvalidRequestError, OAuthError
from auth_service.domain.service_clients import ServiceClient, authenticate_client
from auth_service.domain.token_exchange import TOKEN_EXCHANGE, ExchangeRequest, exchange_token
from auth_service.service_identity import ServiceIdentity

GrantHandler = Callable[[Request, Mapping[str, str]], Awaitable[JSONResponse]]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


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


def error_response(error: OAuthError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers())


def token_response(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers=NO_STORE)


def _identity(request: Request) -> ServiceIdentity:
    identity: ServiceIdentity = request.app.state.service_identity
    return identity


async def _authenticated_client(request: Request, params: Mapping[str, str]) -> ServiceClient:
    identity = _identity(request)
    limiter = identity.runtime.rate_limiter
    ip = request_context(request, identity.settings.trusted_proxies).ip or "unknown"
    await limiter.check("client-auth-failure-ip", ip)
    try:
        client_id, secret = client_credentials_of(request.headers.get("authorization"), params)
        return await authenticate_client(identity.clients, client_id, secret)
    except InvalidClientError:
        await limiter.hit("client-auth-failure-ip", ip)
        raise


async def client_credentials_grant(request: Request, params: Mapping[str, str]) -> JSONResponse:
    """`grant_type=client_credentials`: the calling service's own token."""
    try:
        client = await _authenticated_client(request, params)
        result = issue_service_token(
            client,
            audience=params.get("audience"),
            scope=params.get("scope"),
            issuer=_identity(request).runtime.token_issuer,
        )
    except OAuthError as exc:
        return error_response(exc)
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
    identity = _identity(request)
    try:
        client = await _authenticated_client(request, params)
        result = await exchange_token(
            client,
            ExchangeRequest(
                subject_token=params.get("subject_token"),
                subject_token_type=params.get("subject_token_type"),
                audience=params.get("audience"),
                scope=params.get("scope"),
                requested_token_type=params.get("requested_token_type"),
                actor_token=params.get("actor_token"),
            ),
            rules=identity.rules,
            verifier=identity.subject_verifier(client.client_id),
            status=identity.status,
            issuer=identity.runtime.token_issuer,
            now=int(identity.clock()),
        )
    except OAuthError as exc:
        return error_response(exc)
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
