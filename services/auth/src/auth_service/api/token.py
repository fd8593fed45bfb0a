"""`POST /v1/auth/token`: the RFC 6749 token endpoint, dispatching on `grant_type`.

Each grant has one handler, `async (request, params) -> JSONResponse`, in `GRANTS`. The endpoint
parses the parameters once (form-encoded, or a JSON object), refuses a repeated parameter
(RFC 6749 §3.2) and an unknown grant; its route class (`api/errors.TokenEndpointRoute`) answers
every error as RFC 6749 JSON with `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from tessera.http.bodies import decode_json

from auth_service.api.errors import OAUTH_ERROR_RESPONSES, TokenEndpointRoute
from auth_service.api.refresh_grant import refresh_token_grant
from auth_service.api.service_grants import SERVICE_GRANTS, GrantHandler
from auth_service.errors import InvalidRequestError, UnsupportedGrantTypeError

router = APIRouter(prefix="/v1/auth", tags=["auth"], route_class=TokenEndpointRoute)
GRANTS: dict[str, GrantHandler] = {"refresh_token": refresh_token_grant, **SERVICE_GRANTS}
MAX_PARAMETER_LENGTH = 16_384
MAX_FIELDS = 1000
_PARAMETERS = {
    "type": "object",
    "required": ["grant_type"],
    "properties": {
        name: {"type": "string", "maxLength": MAX_PARAMETER_LENGTH, "description": description}
        for name, description in (
            ("grant_type", "refresh_token, client_credentials or RFC 8693 token exchange"),
            ("client_id", "web or mobile (refresh_token), or a service client"),
            ("refresh_token", "mobile only: web sends it as the refresh cookie"),
            ("client_secret", "a service client's secret, if not in HTTP Basic"),
            ("audience", "client_credentials and token exchange"),
            ("scope", "space-separated"),
            ("subject_token", "token exchange: the user's access token"),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
        )
    },
    # a mobile refresh: the refresh token of the mobile login's answer, pasted
    "examples": [{"grant_type": "refresh_token", "client_id": "mobile", "refresh_token": "tsr_…"}],
}
_TOKEN_RESPONSE = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "examples": ["Bearer"]},
        "expires_in": {"type": "integer"},
        "refresh_token": {"type": "string", "description": "mobile refresh only"},
        "scope": {"type": "string"},
        "issued_token_type": {"type": "string", "description": "token exchange only"},
    },
}
TOKEN_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": _PARAMETERS},
            "application/json": {"schema": _PARAMETERS},
        },
    },
    "responses": {
        "200": {
            "description": "A token",
            "content": {"application/json": {"schema": _TOKEN_RESPONSE}},
        }
    },
}


async def token_parameters(request: Request) -> Mapping[str, str]:
    """The request's parameters; `InvalidRequestError` if repeated, oversized or not strings."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            body = decode_json(await request.body())
        except ValueError:
            raise InvalidRequestError("the body is not JSON") from None
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            raise InvalidRequestError("the body must be a JSON object of strings")
        items = list(body.items())
    elif content_type == "application/x-www-form-urlencoded":
        items = _urlencoded_items(await request.body())
    else:
        try:
            form = await request.form()
        except HTTPException as exc:  # a multipart body Starlette cannot parse (no boundary, ...)
            if exc.status_code == 413:
                raise  # too large, not malformed: the body limit's own answer
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


def _urlencoded_items(body: bytes) -> list[tuple[str, str]]:
    """A form body's pairs, in order, as Starlette's form parser reads them (bytes as latin-1,
    then percent-decoded as UTF-8), without its general machinery: every refresh posts one."""
    try:
        return parse_qsl(body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise InvalidRequestError(f"the form has more than {MAX_FIELDS} fields") from None


@router.post("/token", responses=OAUTH_ERROR_RESPONSES, openapi_extra=TOKEN_OPENAPI)
async def token(request: Request) -> JSONResponse:
    params = await token_parameters(request)
    grant_type = params.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("grant_type is required")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantTypeError(f"grant_type {grant_type!r} is not supported")
    return await handler(request, params)
