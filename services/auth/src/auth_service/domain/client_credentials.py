"""The client_credentials grant (RFC 6749 §4.4): a service's own access token.

The token names the service (`sub` = `client_id` = the client id), is meant for one audience
the client may ask for, carries the requested scopes narrowed to what the client is allowed (all
of them when none are asked for), and has no `sid`, roles or actor; `ver` is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth_service.domain.access_tokens import AccessTokenGrant, AccessTokenIssuer, IssuedAccessToken
from auth_service.domain.service_clients import ServiceClient
from auth_service.errors import (
    InvalidRequestError,
    InvalidScopeError,
    InvalidTargetError,
    UnauthorizedClientError,
)

CLIENT_CREDENTIALS = "client_credentials"
SERVICE_TOKEN_VERSION = 0


@dataclass(frozen=True)
class ServiceTokenResult:
    token: IssuedAccessToken
    scopes: tuple[str, ...]


def requested_scopes(scope: str | None) -> tuple[str, ...] | None:
    """The space-separated `scope` parameter as a tuple (None when absent)."""
    if scope is None:
        return None
    return tuple(dict.fromkeys(scope.split()))


def issue_service_token(
    client: ServiceClient,
    *,
    audience: str | None,
    scope: str | None,
    issuer: AccessTokenIssuer,
) -> ServiceTokenResult:
    """Issue `client` a token for `audience`; the RFC 6749/8693 error when it may not have one."""
    allowed = client.permissions
    if not client.may_use(CLIENT_CREDENTIALS):
        raise UnauthorizedClientError("this client may not use client_credentials")
    if audience is None:
        if len(allowed.audiences) != 1:
            raise InvalidRequestError("audience is required")
        audience = allowed.audiences[0]
    if audience not in allowed.audiences:
        raise InvalidTargetError(f"this client may not obtain tokens for audience {audience!r}")
    wanted = requested_scopes(scope)
    scopes = (
        allowed.scopes
        if wanted is None
        else tuple(scope for scope in wanted if scope in allowed.scopes)
    )
    if wanted and not scopes:
        raise InvalidScopeError("none of the requested scopes may be granted to this client")
    grant = AccessTokenGrant(
        subject=client.client_id,
        session_id=None,
        client_id=client.client_id,
        audience=(audience,),
        scopes=scopes,
        roles=(),
        token_version=SERVICE_TOKEN_VERSION,
    )
    return ServiceTokenResult(token=issuer.issue(grant), scopes=scopes)
