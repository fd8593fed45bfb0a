"""`grant_type=refresh_token` at the token endpoint (registered in `api/token.py`).

`client_id` (`web` or `mobile`) is required and must match the session's. Web takes the token
from the refresh cookie (plus the CSRF check), mobile from the body; both at once is
`invalid_request`. Web gets the successor as a new cookie, mobile in the body. A database
failure answers 503 `temporarily_unavailable` and changes nothing (the rotation is one
transaction), so the client may simply retry with the same token.

Every refusal is RFC 6749 JSON with `Cache-Control: no-store`, like the rest of the token
endpoint (DESIGN §10), including the ones that are problem+json elsewhere: the per-IP rate limit
(429 `temporarily_unavailable`, Retry-After) and the CSRF/origin checks (403 `invalid_request`),
which the token endpoint (`api/token.py`) answers for every grant; `errors.py` says why those
codes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from auth_service.api.browser_security import (
    check_csrf,
    clear_browser_cookies,
    refresh_cookie_name,
    set_refresh_cookie,
)
from auth_service.api.client_context import request_context
from auth_service.api.service_grants import NO_STORE, error_response
from auth_service.bootstrap import AuthRuntime
from auth_service.domain.login import ClientId
from auth_service.domain.oauth_errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuthError,
)
from auth_service.domain.rotation import refresh_session
from auth_service.domain.session_management import session_of_refresh_token

logger = logging.getLogger(__name__)


def _presented_token(
    request: Request, params: Mapping[str, str], runtime: AuthRuntime
) -> tuple[ClientId, str]:
    raw_client = params.get("client_id")
    if not raw_client:
        raise InvalidRequestError("client_id is required")
    try:
        client_id = ClientId(raw_client)
    except ValueError:
        raise InvalidClientError("unknown client") from None
    from_cookie = request.cookies.get(refresh_cookie_name(runtime.settings))
    from_body = params.get("refresh_token")
    if from_cookie and from_body:
        raise InvalidRequestError("send the refresh token in the cookie or the body, not both")
    token = from_cookie if client_id is ClientId.WEB else from_body
    if not token:
        where = "the refresh cookie" if client_id is ClientId.WEB else "refresh_token"
        raise InvalidRequestError(f"{where} is required for client {client_id.value}")
    return client_id, token


async def refresh_token_grant(request: Request, params: Mapping[str, str]) -> JSONResponse:
    runtime: AuthRuntime = request.app.state.runtime
    settings = runtime.settings
    context = request_context(request, settings.trusted_proxies)
    web = False
    try:
        await runtime.rate_limiter.hit("refresh-ip", context.ip or "unknown")
        client_id, presented = _presented_token(request, params, runtime)
        web = client_id is ClientId.WEB
        if web:
            async with runtime.storage.unit_of_work() as uow:
                session = await session_of_refresh_token(uow, presented)
            check_csrf(request, settings, runtime.csrf_key, session.id if session else None)
        async with runtime.storage.unit_of_work() as uow:
            result = await refresh_session(
                uow=uow,
                issuer=runtime.token_issuer,
                policy=runtime.session_policy,
                presented=presented,
                client_id=client_id.value,
                now=runtime.now(),
                context=context,
            )
    except InvalidGrantError as exc:
        response = error_response(exc)
        if web:
            clear_browser_cookies(response, settings)
        return response
    except OAuthError as exc:
        return error_response(exc)
    except (SQLAlchemyError, OSError):
        logger.exception("refresh failed on a storage error; nothing was changed")
        return JSONResponse(
            {"error": "temporarily_unavailable", "error_description": "try again shortly"},
            status_code=503,
            headers={**NO_STORE, "Retry-After": "1"},
        )
    body: dict[str, Any] = {
        "access_token": result.access_token.token,
        "token_type": "Bearer",
        "expires_in": result.access_token.expires_in,
    }
    if not web:
        body["refresh_token"] = result.refresh_token
    response = JSONResponse(body, headers=NO_STORE)
    if web:
        lifetime = runtime.session_policy.lifetime(client_id.value)
        ends = result.session.created_at + timedelta(seconds=lifetime.absolute_seconds)
        max_age = max(0, int((ends - runtime.now()).total_seconds()))
        set_refresh_cookie(response, settings, result.refresh_token, max_age)
    return response
