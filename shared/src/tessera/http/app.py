"""create_service_app: a Tessera service's FastAPI app with every default wired in one call.

    app = create_service_app(
        "orders",                                               # the title: "Tessera orders"
        settings,                                               # body limit, trusted proxies
        resource=ResourceServer(settings, audience="orders"),   # verifier, JWKS, revocations
        database=Database.connect(settings.DATABASE_URL),       # readiness + dispose
        lifespan=own_lifespan,                                  # the service's own parts
    )
    app.include_router(orders.router)

The lifespan starts the resource server (keys, then the revocation feed), then the service's
own lifespan; shutdown runs the other way round and disposes of the database last. `/healthz`,
`/readyz` (database, jwks, revocations and the service's own checks), `/metrics`, request ids,
the access log and problem+json for every error (`install_service_defaults`; a database that
cannot be reached just now is 503 + Retry-After, the connection kept) and Swagger UI at `/docs`,
served without a CDN (`install_api_docs`), come with it, and `app.state.token_verifier` is the
resource server's verifier for `CurrentPrincipal`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from tessera.http.api_docs import install_api_docs
from tessera.http.defaults import ReadinessCheck, ReadinessDetail, install_service_defaults
from tessera.http.problems import install_storage_failure_handler
from tessera.storage import STORAGE_FAILURES, Database

if TYPE_CHECKING:
    from tessera.resource_server import ResourceServer
    from tessera.settings import ServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    service: str,
    settings: ServiceSettings,
    *,
    title: str | None = None,
    resource: ResourceServer | None = None,
    database: Database | None = None,
    lifespan: Lifespan | None = None,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    details: Mapping[str, ReadinessDetail] | None = None,
    version: str = "1",
) -> FastAPI:
    """The app; see the module docstring for what it starts, stops and serves."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        try:
            if resource is not None:
                await resource.start()
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            if resource is not None:
                await resource.stop()
            if database is not None:
                await database.dispose()

    app = FastAPI(
        title=title or f"Tessera {service}",
        version=version,
        lifespan=run,
        docs_url=None,  # FastAPI's pages load Swagger UI and ReDoc from CDNs: install_api_docs
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    checks: dict[str, ReadinessCheck] = {}
    reporters: dict[str, ReadinessDetail] = dict(details or {})
    if database is not None:
        checks["database"] = database.is_reachable
        app.state.database = database
    if resource is not None:
        checks.update(resource.readiness())
        reporters.update(resource.details())
        app.state.token_verifier = resource.verifier
        app.state.service_identity = resource.identity  # its index and watcher, for operators
    checks.update(readiness or {})
    install_storage_failure_handler(app, STORAGE_FAILURES)
    install_service_defaults(
        app,
        service=service,
        readiness=checks,
        details=reporters,
        max_body_bytes=settings.MAX_REQUEST_BODY_BYTES,
        trusted_proxies=settings.trusted_proxies,
    )
    install_api_docs(app)
    return app
