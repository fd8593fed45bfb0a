"""`POST /v1/auth/token`: the RFC 6749 token endpoint, dispatching on `grant_type`.

Each grant has one handler, `async (request, params) -> JSONResponse`, in `GRANTS`. The endpoint
parses the parameters once (form-encoded, or a JSON object), refuses a repeated parameter
(RFC 6749 §3.2) and an unknown grant; its route class (`api/errors.TokenEndpointRoute`) answers
every error as RFC 6749 JSON with `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from auth_service.api.errors import TokenEndpointRoute
from auth_service.api.refresh_grant import refresh_token_grant
from auth_service.api.service_grants import SERVICE_GRANTS, GrantHandler
from auth_service.errors import InvalidRequestError, UnsupportedGrantTypeError

router = APIRouter(prefix="/v1/auth", tags=["auth"], route_class=TokenEndpointRoute)
GRANTS: dict[str, GrantHandler] = {"refresh_token": refresh_token_grant, **SERVICE_GRANTS}
MAX_PARAMETER_LENGTH = 16_384


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
    params = await token_parameters(request)
    grant_type = params.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("grant_type is required")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantTypeError(f"grant_type {grant_type!r} is not supported")
    return await handler(request, params)
