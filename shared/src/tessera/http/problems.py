"""RFC 9457 problem+json responses and the exception handlers that produce them.

Every error a service answers goes through here, so the body is always
`{"type", "title", "status", "detail"}` and token failures always carry an RFC 6750
`WWW-Authenticate` challenge.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from tessera.errors import ServiceError
from tessera.tokens.challenges import bearer_challenge
from tessera.tokens.errors import (
    InsufficientScopeError,
    InsufficientUserAuthenticationError,
    InvalidTokenError,
    MissingTokenError,
)

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger(__name__)


class ProblemError(Exception):
    """Raise anywhere in a request to answer with this problem+json response.

    Example::

        raise ProblemError(404, "Not Found", "No order with this id")
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response; `title` defaults to the status phrase."""
    title = title or _phrase(status)
    body: dict[str, Any] = {**(extensions or {})}
    body.update(type=type, title=title, status=status, detail=detail or title)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_for(error: ServiceError) -> JSONResponse:
    """The problem+json answer for one of a service's own errors (`tessera.errors`)."""
    return problem_response(
        error.http_status,
        error.title,
        error.detail,
        type=error.problem_type,
        headers=error.headers(),
        extensions=error.extensions(),
    )


async def _service_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return problem_for(exc)


async def _problem_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        type=exc.type,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return problem_response(exc.status_code, None, detail, headers=headers)


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, asked of the routes themselves (Starlette's
    405 names only the first route's, so `Allow` said POST for a path that also serves GET;
    and an included router is one route that serves many)."""
    routes = request.app.router.routes
    served = [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]
    return ", ".join(served)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
        for error in exc.errors()
    ]
    return problem_response(
        422, "Unprocessable Content", "The request is invalid", extensions={"errors": errors}
    )


async def _missing_token(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, MissingTokenError)
    return problem_response(
        401, "Unauthorized", exc.description, headers={"WWW-Authenticate": bearer_challenge()}
    )


async def _invalid_token(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidTokenError)
    challenge = bearer_challenge("invalid_token", error_description=exc.description)
    return problem_response(
        401, "Unauthorized", exc.description, headers={"WWW-Authenticate": challenge}
    )


async def _insufficient_scope(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, InsufficientScopeError)
    challenge = bearer_challenge("insufficient_scope", scope=" ".join(exc.scopes))
    return problem_response(
        403, "Forbidden", exc.description, headers={"WWW-Authenticate": challenge}
    )


async def _insufficient_user_authentication(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, InsufficientUserAuthenticationError)
    challenge = bearer_challenge("insufficient_user_authentication", **exc.challenge_params)
    extensions: dict[str, object] = {}
    if exc.max_age is not None:
        extensions["max_age"] = exc.max_age
    if exc.acr_values is not None:
        extensions["acr_values"] = exc.acr_values
    return problem_response(
        401,
        "Unauthorized",
        exc.description,
        headers={"WWW-Authenticate": challenge},
        extensions=extensions,
    )


STORAGE_RETRY_AFTER_SECONDS = 1


async def _storage_unavailable(_: Request, exc: Exception) -> Response:
    # One line, no traceback: an outage is not a bug, and the error text may quote SQL values.
    logger.warning("Storage unavailable; answered 503", extra={"error": type(exc).__name__})
    return problem_response(
        503,
        "Service Unavailable",
        "The database is unavailable just now; retry shortly",
        headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
    )


def install_storage_failure_handler(app: FastAPI, failures: Sequence[type[Exception]]) -> None:
    """Answer `failures` (a database that cannot be reached or used just now) with 503 +
    Retry-After as an ordinary answer: unlike a 500, the connection stays open for the retry."""
    for failure in failures:
        app.add_exception_handler(failure, _storage_unavailable)


async def _unhandled(_: Request, exc: Exception) -> Response:
    logger.error("Unhandled error", exc_info=exc)
    return problem_response(500, "Internal Server Error", "An unexpected error occurred")


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error the platform knows to problem+json (and RFC 6750 challenges)."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(MissingTokenError, _missing_token)
    app.add_exception_handler(InvalidTokenError, _invalid_token)
    app.add_exception_handler(InsufficientScopeError, _insufficient_scope)
    app.add_exception_handler(
        InsufficientUserAuthenticationError, _insufficient_user_authentication
    )
    app.add_exception_handler(Exception, _unhandled)
