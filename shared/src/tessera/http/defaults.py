"""install_service_defaults: what every Tessera HTTP service opts into with one call.

Request ids, the JSON access log, problem+json for every error, `/healthz`, `/readyz` (503
once the server drains, `tessera.http.draining`) and `/metrics`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from tessera.http.access_log import RequestContextMiddleware
from tessera.http.body_limit import BodyLimitMiddleware
from tessera.http.draining import install_draining
from tessera.http.forwarded import ForwardedHeadersMiddleware
from tessera.http.problems import install_problem_handlers, problem_response

ReadinessCheck = Callable[[], Awaitable[bool]]
ReadinessDetail = Callable[[], Mapping[str, object]]
"""State worth showing in /readyz that does not decide readiness (e.g. a fail-open feed's lag)."""
READINESS_TIMEOUT_SECONDS = 2.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
logger = logging.getLogger(__name__)


def install_service_defaults(
    app: FastAPI,
    *,
    service: str,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    details: Mapping[str, ReadinessDetail] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    trusted_proxies: Sequence[str] = (),
) -> None:
    """Add the middleware (the caller's address through `trusted_proxies` only, request ids
    and the access log, 413 past `max_body_bytes`), problem handlers and operations routes.

    `readiness` maps a dependency name (e.g. "database", "jwks") to a check; `/readyz` answers
    200 only when every check returns True within two seconds, else 503 problem+json naming them.
    `details` adds named state to either answer without deciding it (`"details": {...}`).
    """
    checks = dict(readiness or {})
    reporters = dict(details or {})
    draining = install_draining(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(RequestContextMiddleware)  # it sees (and logs) every answer
    app.add_middleware(ForwardedHeadersMiddleware, trusted_proxies=trusted_proxies)  # first
    install_problem_handlers(app)
    app.state.service_name = service

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "service": service})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        results = dict(
            zip(checks, await asyncio.gather(*(_run(c) for c in checks.values())), strict=True)
        )
        extra = {"details": {n: dict(r()) for n, r in reporters.items()}} if reporters else {}
        if draining.started:  # shutting down: send nothing new here
            return problem_response(503, "Service Unavailable", "Shutting down")
        if all(results.values()):
            body = {"status": "ready", "service": service, "checks": results, **extra}
            return JSONResponse(body)
        failing = ", ".join(name for name, ok in results.items() if not ok)
        return problem_response(
            503,
            "Service Unavailable",
            f"Not ready: {failing}",
            extensions={"checks": results, **extra},
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _run(check: ReadinessCheck) -> bool:
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            return bool(await check())
    except Exception:  # a failing check means "not ready", whatever it raised
        logger.warning("Readiness check failed", exc_info=True)
        return False
