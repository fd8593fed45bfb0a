"""`/.well-known`: the JWK Set and RFC 8414 authorization-server metadata.

Both are built from settings (`ISSUER`), never from the request's Host header, and are cacheable;
the JWKS carries an ETag so verifiers can revalidate cheaply.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request, Response
from tessera.http.openapi import problem_responses
from tessera.tokens.step_up import ACR_LEVELS

from auth_service.api.deps import KeyRingDep, SettingsDep
from auth_service.config import TOKEN_EXCHANGE_GRANT
from auth_service.domain.access_tokens import ADMIN_SCOPES, USER_SCOPES

router = APIRouter(prefix="/.well-known", tags=["discovery"], responses=problem_responses(304))

# The grants `POST /v1/auth/token` dispatches on (api/token.py; a test keeps the two equal).
# There is no authorization endpoint: users log in with `POST /v1/auth/login`.
GRANT_TYPES_SUPPORTED = ["refresh_token", "client_credentials", TOKEN_EXCHANGE_GRANT]
# Service clients authenticate with HTTP Basic or the body (RFC 6749 §2.3.1); the public web and
# mobile clients refresh without client authentication (`none`). No RFC 7009 revocation endpoint
# exists (logout and the sessions API revoke), so no `revocation_endpoint` is advertised.
TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def _json(body: dict[str, Any], *, max_age: int, request: Request) -> Response:
    content = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


@router.get("/jwks.json")
async def jwks(request: Request, keys: KeyRingDep, settings: SettingsDep) -> Response:
    return _json(keys.jwks(), max_age=settings.JWKS_MAX_AGE_SECONDS, request=request)


@router.get("/oauth-authorization-server")
async def authorization_server_metadata(request: Request, settings: SettingsDep) -> Response:
    issuer = settings.ISSUER
    metadata = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": f"{issuer}/v1/auth/token",
        "grant_types_supported": GRANT_TYPES_SUPPORTED,
        "token_endpoint_auth_methods_supported": TOKEN_ENDPOINT_AUTH_METHODS,
        "response_types_supported": [],
        "scopes_supported": [*USER_SCOPES, *ADMIN_SCOPES],
        "acr_values_supported": list(ACR_LEVELS),
    }
    return _json(metadata, max_age=settings.JWKS_MAX_AGE_SECONDS, request=request)
