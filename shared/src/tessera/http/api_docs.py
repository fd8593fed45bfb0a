"""install_api_docs: Swagger UI at `/docs`, served by the service itself, nothing from a CDN.

FastAPI's own `/docs` loads Swagger UI from a CDN and starts it with an inline script: blank
without internet, and refused by a Content-Security-Policy without `'unsafe-inline'`. Here the
page, Swagger UI's files (from the `fastapi-swagger` package, which ships each release of
Swagger UI; its own page we don't use) and the script that starts it
(`swagger-initializer.js`, beside this module) all come from the service:

    GET /docs                          the page, under DOCS_CSP: scripts, styles and calls to 'self'
    GET /docs/swagger-ui-bundle.js     Swagger UI
    GET /docs/swagger-ui.css
    GET /docs/favicon-32x32.png
    GET /docs/swagger-initializer.js   starts it on the page's `/openapi.json`

"Authorize" takes an access token for the bearer scheme every protected route declares
(`tessera.http.deps.BEARER_SCHEME`) and "Try it out" sends it. The token stays in the page, as
the SPA keeps its own: a reload asks for it again. There is no `/redoc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse

DOCS_PATH = "/docs"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page's policy: Swagger UI's CSS draws its icons from `data:` images; nothing else of
another origin, and no inline script or style."""

DOCS_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

ASSETS: Mapping[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("fastapi_swagger.resources", "text/javascript"),
    "swagger-ui.css": ("fastapi_swagger.resources", "text/css"),
    "favicon-32x32.png": ("fastapi_swagger.resources", "image/png"),
    "swagger-initializer.js": ("tessera.http", "text/javascript"),
}
"""What `/docs/<name>` serves: each file's package and media type."""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · API docs</title>
<link rel="icon" type="image/png" href="{docs}/favicon-32x32.png">
<link rel="stylesheet" href="{docs}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{docs}/swagger-ui-bundle.js"></script>
<script src="{docs}/swagger-initializer.js"></script>
</body>
</html>
"""


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI for `app`'s OpenAPI at `/docs`; the app is made with `docs_url=None`
    and `redoc_url=None` (`create_service_app` does), so FastAPI's CDN pages are not there."""
    assets = {name: (_path_of(package, name), media) for name, (package, media) in ASSETS.items()}
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def api_docs_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = PAGE.format(
            title=escape(app.title),
            docs=escape(root + DOCS_PATH),
            openapi_url=escape(root + openapi_url),
        )
        return HTMLResponse(page, headers=dict(DOCS_HEADERS))

    @app.get(DOCS_PATH + "/{name}", include_in_schema=False)
    async def api_docs_asset(name: str) -> FileResponse:
        if name not in assets:
            raise HTTPException(404)
        path, media_type = assets[name]
        # revalidated on every load (cheap: ETag), so an upgraded Swagger UI is seen at once
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


def _path_of(package: str, name: str) -> Path:
    """The file `name` of `package`, checked now: a release that moves it fails at start-up."""
    path = files(package) / name
    if not isinstance(path, Path) or not path.is_file():
        raise RuntimeError(f"{name} is not a file of {package}: the API docs cannot be served")
    return path
