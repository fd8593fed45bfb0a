"""Maps billing's exception tree to RFC 9457 problem+json responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from tessera import problem_response

from billing_service.errors import BillingError


async def _billing_error_response(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BillingError)
    return problem_response(error.http_status, error.title, str(error))


def install_problem_handlers(app: FastAPI) -> None:
    """Every BillingError leaves the HTTP API as problem+json with its mapped status."""
    app.add_exception_handler(BillingError, _billing_error_response)
