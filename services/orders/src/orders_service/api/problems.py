"""Maps the orders exception tree to RFC 9457 problem+json (RFC 6750 challenge on 401)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tessera import problem_response

from orders_service.errors import OrdersError


async def _orders_error_response(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, OrdersError)
    return problem_for(error)


def problem_for(error: OrdersError) -> JSONResponse:
    """The problem+json answer for `error`, with its RFC 6750 challenge or Retry-After."""
    headers: dict[str, str] = {}
    if error.www_authenticate:
        headers["WWW-Authenticate"] = error.www_authenticate
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return problem_response(error.http_status, error.title, str(error), headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Every OrdersError leaves the HTTP API as problem+json with its mapped status."""
    app.add_exception_handler(OrdersError, _orders_error_response)
