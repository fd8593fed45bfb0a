"""The dev gateway on port 8000: what nginx does in compose, as one small local process.

It routes the public API by path prefix, without rewriting, to the service that owns it, and
nothing else: the revocation feed, `/metrics` and gRPC stay internal (404 here). It sets the
forwarding headers the services trust from it (`X-Forwarded-For` is the peer it saw, never a
client-supplied value), a request id, and the security headers; it streams bodies both ways and
passes every `Set-Cookie`. Any other path serves the SPA from `clients/spa/dist`, or from
`clients/spa` itself when it is not built (index.html for client-side routes), or a placeholder.

Like the nginx gateway (`deploy/nginx/default.conf`, the same rules), it refuses with 400 a path
with a dot segment (`/./`, `/../`), an encoded dot, slash or backslash, or an empty segment
(`//`): routing matches the path as sent, so no path that means something else once normalised
(by httpx, by an upstream) can reach a route it was not matched to. Bodies over the limit of
their route (`BODY_LIMITS`, nginx's `client_max_body_size`) are refused with 413 unread. It
connects to the services from `GATEWAY_SOURCE_ADDRESS` (127.0.0.2 in `make run`), the one
address they trust X-Forwarded-For from, so no other local process can claim a client address.
`/healthz` is its own liveness (the services' stay internal), as on the nginx gateway.

It logs like the services (`tessera.configure_logging`: `LOG_FORMAT`, `LOG_LEVEL`), one line
per request with its request id, never the query string.

    GATEWAY_PORT=8000 AUTH_UPSTREAM=http://127.0.0.1:8001 ... python -m tessera_dev.gateway
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import uvicorn
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from tessera.http.server import DrainingServer, end_process_now
from tessera.keep_alive import client_limits
from tessera.logging import configure_logging
from tessera.settings import LoggingSettings

ROUTES: tuple[tuple[str, str], ...] = (
    ("/v1/auth", "auth"),
    ("/v1/users", "auth"),
    ("/v1/sessions", "auth"),
    ("/v1/admin", "auth"),
    ("/.well-known", "auth"),
    ("/v1/orders", "orders"),
    ("/v1/invoices", "billing"),
)
"""Public path prefixes and the service that owns each; the same table as deploy/nginx."""

BODY_LIMITS: Mapping[str, int] = {"auth": 64 * 1024, "orders": 1024 * 1024, "billing": 64 * 1024}
"""The largest request body each service takes (its MAX_REQUEST_BODY_BYTES; nginx's
client_max_body_size for its locations)."""

UNSAFE_PATH = re.compile(r"(%2[eEfF]|%5[cC]|//|/\.\.?(/|\?|$))")
"""A dot segment, an encoded dot, slash or backslash, or an empty segment: refused with 400.
The same expression guards the nginx gateway (`$tessera_unsafe_path`)."""

SPA_DIRS = (Path("clients/spa/dist"), Path("clients/spa"))
"""Where the SPA is looked for, relative to the workspace root (the launcher's cwd)."""

RESERVED_PREFIXES = ("/v1", "/.well-known", "/healthz", "/readyz", "/metrics", "/docs", "/openapi")
"""Paths that are never the SPA: unrouted ones answer 404 instead of index.html."""
HEALTH_PATH = "/healthz"
"""The gateway's own liveness: 200 while it serves, whatever the services behind it do."""
DEV_INBOX_PATH = "/dev/inbox"
"""A development platform's way to its inbox from the SPA ("check your inbox"): a redirect to
the catcher's page (compose's nginx: to Mailpit's). A real deployment has no such path."""

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
FORWARDING = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

PLACEHOLDER_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera</title></head>
<body><h1>Tessera</h1>
<p>The platform is running. The SPA is not built yet (clients/spa/dist); the API is here:</p>
<ul>
<li><a href="/.well-known/oauth-authorization-server">authorization server metadata</a></li>
<li><a href="/.well-known/jwks.json">JWKS</a></li>
</ul></body></html>
"""

log = logging.getLogger("tessera_dev.gateway")


class GatewaySettings(BaseSettings, LoggingSettings):
    """Read once from the environment names the platform description gives the gateway."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    GATEWAY_HOST: str = "127.0.0.1"
    GATEWAY_PORT: int = Field(default=8000, ge=0, le=65535)
    AUTH_UPSTREAM: str = "http://127.0.0.1:8001"
    ORDERS_UPSTREAM: str = "http://127.0.0.1:8002"
    BILLING_UPSTREAM: str = "http://127.0.0.1:8003"
    GATEWAY_SPA_DIR: str = ""
    """Where the SPA is served from; empty: the built SPA if there is one, else its sources."""
    GATEWAY_SOURCE_ADDRESS: str = ""
    """The local address the gateway connects to the services from (empty: the kernel's pick)."""
    GATEWAY_INBOX_URL: str = "http://127.0.0.1:8025/"
    """Where `/dev/inbox` leads: the platform's development inbox (the SPA links to it)."""

    @property
    def upstreams(self) -> Mapping[str, str]:
        return {
            "auth": self.AUTH_UPSTREAM,
            "orders": self.ORDERS_UPSTREAM,
            "billing": self.BILLING_UPSTREAM,
        }

    @property
    def spa_dir(self) -> Path:
        return Path(self.GATEWAY_SPA_DIR) if self.GATEWAY_SPA_DIR else _spa_dir()


def _spa_dir() -> Path:
    """The built SPA if there is one, else its sources (it runs unbuilt as ES modules)."""
    for candidate in SPA_DIRS:
        if (candidate / "index.html").is_file():
            return candidate
    return SPA_DIRS[0]


def unsafe_path(raw_path: str) -> bool:
    """Whether the path as sent (percent-encoded, no query) is refused (see `UNSAFE_PATH`)."""
    return UNSAFE_PATH.search(raw_path) is not None


def route_for(path: str) -> str | None:
    """The service owning `path`, matching whole segments (`/v1/ordersx` is nobody's)."""
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return service
    return None


def _problem(status: int, title: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _upstream_headers(request: Request, request_id: str) -> list[tuple[str, str]]:
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name not in HOP_BY_HOP and name not in FORWARDING and name != "content-length"
    ]
    client = request.client.host if request.client else "unknown"
    headers += [
        ("x-forwarded-for", client),
        ("x-forwarded-proto", request.url.scheme),
        ("x-forwarded-host", request.headers.get("host", "")),
        ("x-request-id", request_id),
    ]
    return headers


class BodyTooLargeError(Exception):
    """Raised (internally) when a streamed request body passes its route's limit."""


async def _limited(body: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The body, chunk by chunk, until it passes `limit` bytes."""
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > limit:
            raise BodyTooLargeError
        yield chunk


async def _proxy(request: Request, service: str, request_id: str, raw_path: str) -> Response:
    client: httpx.AsyncClient = request.app.state.http
    upstream = request.app.state.settings.upstreams[service]
    limit = BODY_LIMITS[service]
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _problem(413, "Content Too Large")
    url = httpx.URL(upstream + raw_path, query=request.url.query.encode())
    has_body = request.method not in ("GET", "HEAD", "OPTIONS")
    outgoing = client.build_request(
        request.method,
        url,
        headers=_upstream_headers(request, request_id),
        content=_limited(request.stream(), limit) if has_body else None,
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except BodyTooLargeError:
        return _problem(413, "Content Too Large")
    except httpx.TransportError:
        return _problem(502, f"{service} is unreachable")
    response = StreamingResponse(
        answer.aiter_raw(), status_code=answer.status_code, background=BackgroundTask(answer.aclose)
    )
    # Raw headers keep every Set-Cookie; content-length and -encoding describe the raw bytes;
    # uvicorn adds its own date and server.
    response.raw_headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in answer.headers.multi_items()
        if name.lower() not in HOP_BY_HOP and name.lower() not in ("date", "server")
    ]
    return response


def _spa(request: Request) -> Response:
    spa_dir: Path = request.app.state.settings.spa_dir.resolve()
    index = spa_dir / "index.html"
    if not index.is_file():
        return HTMLResponse(PLACEHOLDER_INDEX)
    candidate = (spa_dir / request.url.path.lstrip("/")).resolve()
    if candidate.is_relative_to(spa_dir) and candidate.is_file():
        return FileResponse(candidate)
    return FileResponse(index)


async def handle(request: Request) -> Response:
    """Every request: proxy, SPA or 404, then the request id and the security headers."""
    started = time.perf_counter()
    offered = request.headers.get("x-request-id", "")
    request_id = offered if REQUEST_ID.match(offered) else uuid.uuid4().hex
    path = request.url.path
    raw_path = request.scope.get("raw_path", path.encode()).decode("latin-1")
    service = route_for(path)
    response: Response
    if unsafe_path(raw_path):
        response = _problem(400, "Bad Request")
    elif service is not None:
        response = await _proxy(request, service, request_id, raw_path)
    elif path == HEALTH_PATH and request.method in ("GET", "HEAD"):
        response = JSONResponse({"status": "ok", "service": "gateway"})
    elif path == DEV_INBOX_PATH:
        response = RedirectResponse(request.app.state.settings.GATEWAY_INBOX_URL, status_code=307)
    elif path.startswith(RESERVED_PREFIXES) or request.method not in ("GET", "HEAD"):
        response = _problem(404, "Not Found")
    else:
        response = _spa(request)
    response.headers["x-request-id"] = request_id
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    log.log(
        logging.DEBUG if path == HEALTH_PATH else logging.INFO,  # probes would drown the rest
        "%s %s %d",
        request.method,
        path,  # never the query string
        response.status_code,
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": path,
            "upstream": service,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response


def create_app(settings: GatewaySettings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        timeout = httpx.Timeout(30.0, connect=5.0)
        # A reverse proxy must never keep cookies: httpx's client stores every Set-Cookie it sees
        # and would send one user's refresh cookie along with the next user's request.
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        # From the one local address the services believe X-Forwarded-For from; an idle
        # connection is dropped before the service would close it (`tessera.keep_alive`).
        transport = httpx.AsyncHTTPTransport(
            local_address=settings.GATEWAY_SOURCE_ADDRESS or None, limits=client_limits()
        )
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, cookies=no_cookies, transport=transport
        ) as http:
            app.state.http = http
            yield

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app = Starlette(routes=[Route("/{path:path}", handle, methods=methods)], lifespan=lifespan)
    app.state.settings = settings
    return app


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.LOG_LEVEL, settings.LOG_FORMAT)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.GATEWAY_HOST,
        port=settings.GATEWAY_PORT,
        log_config=None,  # configure_logging's handler, as in the services
        access_log=False,
        log_level="warning",
        # The gateway is the edge: it must see its real peer, never a client's X-Forwarded-For.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    server = DrainingServer(config, draining=None)
    server.run()  # stops like the services: exit 0, at once
    end_process_now(server)


if __name__ == "__main__":
    main()
