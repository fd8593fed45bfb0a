"""The token endpoint's one error mapping: RFC 6749 JSON for everything it can answer.

Everywhere else auth's errors (`errors.py`, a `tessera.ServiceError` tree) are answered as
problem+json by tessera's handlers. `POST /v1/auth/token` answers RFC 6749 §5.2
`{"error", "error_description"}` instead, never cached (DESIGN §10), for every grant: the
grants' own `OAuthError`s, the rate limits and the browser checks (each class names its
`oauth_error`), and a database that cannot be reached (503 `temporarily_unavailable` with
`Retry-After`: the grant changed nothing, so the client retries with the same token). The
status and Retry-After are kept: clients branch on them (the SPA signs out on 400, 401 and 403
from a refresh, but waits on 429 and 503).

`TokenEndpointRoute` applies it to the endpoint's route, so its handler has no try/except.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from tessera.http.openapi import problem_responses
from tessera.storage import STORAGE_FAILURES

from auth_service.errors import AuthServiceError

logger = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
OAUTH_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {
        "error": {"type": "string", "examples": ["invalid_grant"]},
        "error_description": {"type": "string"},
    },
}
OAUTH_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
    }
    for status, description in (
        (400, "invalid_request, invalid_grant, unsupported_grant_type, invalid_scope, ..."),
        (401, "invalid_client (with a Basic challenge)"),
        (403, "a browser request failing the CSRF or origin checks (invalid_request)"),
        (429, "temporarily_unavailable: a rate limit, with Retry-After"),
        (503, "temporarily_unavailable: the database is away, with Retry-After"),
    )
}
OAUTH_ERROR_RESPONSES[413] = problem_responses(413)[413]
"""The token endpoint's errors, as RFC 6749 §5.2 JSON; a body over the limit is refused with
problem+json before the endpoint reads anything."""
STORAGE_RETRY_AFTER_SECONDS = 1


def token_error_response(error: AuthServiceError) -> JSONResponse:
    """`error` as the token endpoint answers it."""
    body = {"error": error.oauth_error, "error_description": error.detail}
    return JSONResponse(
        body, status_code=error.http_status, headers={**NO_STORE, **error.headers()}
    )


def storage_unavailable_response() -> JSONResponse:
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": "try again shortly"},
        status_code=503,
        headers={**NO_STORE, "Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
    )


class TokenEndpointRoute(APIRoute):
    """An APIRoute whose every known failure leaves as RFC 6749 JSON (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer_rfc_6749(request: Request) -> Response:
            try:
                return await handler(request)
            except AuthServiceError as error:
                return token_error_response(error)
            except STORAGE_FAILURES:
                logger.warning(
                    "token request failed on a storage error; nothing was changed", exc_info=True
                )
                return storage_unavailable_response()

        return answer_rfc_6749
