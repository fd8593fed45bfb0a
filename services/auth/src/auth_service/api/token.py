"""`POST /v1/auth/token`: the RFC 6749 token endpoint, dispatching on `grant_type`.

Each grant registers one handler, `async (request, params) -> JSONResponse`, in `GRANTS`
(`register_grant("refresh_token", refresh_grant)`). The endpoint parses the parameters once
(form-encoded, or a JSON object), refuses a repeated parameter (RFC 6749 §3.2) and an unknown
grant, and answers every error as RFC 6749 JSON with `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from auth_service.api.refresh_grant import refresh_token_grant
from auth_service.api.service_grants import SERVICE_GRANTS, GrantHandler, error_response
from auth_service.domain.oauth_errors import InvalidRequestError, OAuthError
from auth_service.errors import AuthServiceError, oauth_error_response

router = APIRouter(prefix="/v1/auth", tags=["auth"])
GRANTS: dict[str, GrantHandler] = {}
MAX_PARAMETER_LENGTH = 16_384


class UnsupportedGrantTypeError(OAuthError):
    error = "unsupported_grant_type"


def register_grant(grant_type: str, handler: GrantHandler) -> None:
    GRANTS[grant_type] = handler


register_grant("refresh_token", refresh_token_grant)
for _grant_type, _handler in SERVICE_GRANTS.items():
    register_grant(_grant_type, _handler)


async def token_parameters(request: Request) -> Mapping[str, str]:
    """The request's parameters; `InvalidRequestError` if repeated, oversized or not strings."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise InvalidRequestError("the body is not JSON") from None
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise InvalidRequestError("the body must be a JSON object of strings")
        items = list(body.items())
    else:
        try:
            form = await request.form()
        except HTTPException:  # a multipart body Starlette cannot parse (no boundary, ...)
            raise InvalidRequestError("the body is not a form") from None
        items = [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    params: dict[str, str] = {}
    for key, value in items:
        if key in params:
            raise InvalidRequestError(f"parameter {key!r} is repeated")
        if len(value) > MAX_PARAMETER_LENGTH:
            raise InvalidRequestError(f"parameter {key!r} is too long")
        params[key] = value
    return params


@router.post("/token")
async def token(request: Request) -> JSONResponse:
    try:
        params = await token_parameters(request)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise InvalidRequestError("grant_type is required")
        handler = GRANTS.get(grant_type)
        if handler is None:
            raise UnsupportedGrantTypeError(f"grant_type {grant_type!r} is not supported")
    except OAuthError as exc:
        return error_response(exc)
    try:
        return await handler(request, params)
    except AuthServiceError as exc:  # a rate limit, the CSRF/origin checks: RFC 6749 here too
        return oauth_error_response(exc)
