"""`grant_type=refresh_token` at the token endpoint (registered in `api/token.py`).

`client_id` (`web` or `mobile`) is required and must match the session's. Web takes the token
from the refresh cookie (plus the CSRF check, bound to the cookie's session), mobile from the
body; both at once is `invalid_request`. Web gets the successor as a new cookie, mobile in the
body. Every refusal is RFC 6749 JSON (`api/errors.py`); a web refresh whose session is over
also clears the browser's cookies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from auth_service.api.browser_security import (
    clear_browser_cookies,
    csrf_session_check,
    refresh_cookie_name,
    set_refresh_cookie,
)
from auth_service.api.deps import get_runtime
from auth_service.api.errors import NO_STORE, token_error_response
from auth_service.api.request_context import request_context
from auth_service.config import Settings
from auth_service.domain.sessions import ClientId
from auth_service.errors import InvalidClientError, InvalidGrantError, InvalidRequestError


def presented_refresh_token(
    request: Request, params: Mapping[str, str], settings: Settings
) -> tuple[ClientId, str]:
    """The client and the refresh token it presents, from the cookie (web) or the body."""
    raw_client = params.get("client_id")
    if not raw_client:
        raise InvalidRequestError("client_id is required")
    try:
        client_id = ClientId(raw_client)
    except ValueError:
        raise InvalidClientError("unknown client") from None
    from_cookie = request.cookies.get(refresh_cookie_name(settings))
    from_body = params.get("refresh_token")
    if from_cookie and from_body:
        raise InvalidRequestError("send the refresh token in the cookie or the body, not both")
    token = from_cookie if client_id is ClientId.WEB else from_body
    if not token:
        where = "the refresh cookie" if client_id is ClientId.WEB else "refresh_token"
        raise InvalidRequestError(f"{where} is required for client {client_id.value}")
    return client_id, token


async def refresh_token_grant(request: Request, params: Mapping[str, str]) -> JSONResponse:
    runtime = get_runtime(request)
    settings = runtime.settings
    client_id, presented = presented_refresh_token(request, params, settings)
    web = client_id is ClientId.WEB
    try:
        result = await runtime.refresh_tokens.rotate(
            presented=presented,
            client_id=client_id.value,
            context=request_context(request),
            check_session=csrf_session_check(request, settings, runtime.csrf_key) if web else None,
        )
    except InvalidGrantError as error:
        if not web:
            raise
        response = token_error_response(error)
        clear_browser_cookies(response, settings)
        return response
    body: dict[str, Any] = {
        "access_token": result.access_token.token,
        "token_type": "Bearer",
        "expires_in": result.access_token.expires_in,
    }
    if not web:
        body["refresh_token"] = result.refresh_token
        return JSONResponse(body, headers=NO_STORE)
    response = JSONResponse(body, headers=NO_STORE)
    lifetime = runtime.session_policy.lifetime(client_id.value)
    ends = result.session.created_at + timedelta(seconds=lifetime.absolute_seconds)
    max_age = max(0, int((ends - runtime.now()).total_seconds()))
    set_refresh_cookie(response, settings, result.refresh_token, max_age)
    return response
