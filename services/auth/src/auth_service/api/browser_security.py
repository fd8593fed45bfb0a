"""Cookie mode for the SPA (DESIGN §7): the refresh cookie, the CSRF cookie and their checks.

- Refresh cookie: `__Secure-tessera_rt` (`tessera_rt` on plain-http dev), HttpOnly, Secure
  (except plain-http dev), SameSite=Strict, Path=/v1/auth: only the token and logout endpoints
  ever receive it.
- CSRF cookie `tessera_csrf` (Path=/, not HttpOnly, SameSite=Strict): `<random>.<hmac>`, the
  HMAC (key derived from the KEK) over the random part and the session id, or `anonymous` before
  login (`GET /v1/auth/csrf`). A cookie-authenticated request (web login, cookie refresh, cookie
  logout) must echo it in `X-CSRF-Token` and it must verify for that session; a page on another
  origin can neither read the cookie nor forge the binding.
- Fetch metadata: an `Origin` (when sent) must be ours (the issuer's origin, the request's
  Host) or in CORS_ALLOWED_ORIGINS; `Sec-Fetch-Site` (when sent) must be `same-origin`, or
  `same-site`/`cross-site` from an allow-listed origin.

Any failure is `ForbiddenRequestError`: 403 problem+json at login and logout, and 403 RFC 6749
`invalid_request` (with `Cache-Control: no-store`) at the token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

from auth_service.config import Settings
from auth_service.errors import ForbiddenRequestError
from auth_service.use_cases.refresh import SessionCheck

CSRF_COOKIE = "tessera_csrf"
CSRF_HEADER = "x-csrf-token"
ANONYMOUS_BINDING = "anonymous"
REFRESH_COOKIE_PATH = "/v1/auth"
ANONYMOUS_CSRF_MAX_AGE = 3600


def refresh_cookie_name(settings: Settings) -> str:
    return "__Secure-tessera_rt" if settings.cookies_secure else "tessera_rt"


def _mac(key: bytes, random_part: str, binding: str) -> str:
    digest = hmac.new(key, f"{random_part}.{binding}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_csrf_token(key: bytes, binding: str) -> str:
    random_part = secrets.token_urlsafe(18)
    return f"{random_part}.{_mac(key, random_part, binding)}"


def csrf_token_is_bound(key: bytes, token: str, binding: str) -> bool:
    random_part, _, mac = token.partition(".")
    return bool(random_part and mac) and hmac.compare_digest(mac, _mac(key, random_part, binding))


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_fetch_metadata(request: Request, settings: Settings) -> None:
    """Refuse requests whose Origin or Sec-Fetch-Site says they come from someone else's page."""
    allowed = settings.cors_allowed_origins
    origin = request.headers.get("origin")
    allow_listed = origin is not None and origin.rstrip("/") in allowed
    if origin is not None and not allow_listed:
        host = request.headers.get("host")
        ours = origin == _origin_of(settings.ISSUER) or (
            host is not None and urlsplit(origin).netloc == host
        )
        if origin == "null" or not ours:
            raise ForbiddenRequestError("cross-origin request refused")
    site = request.headers.get("sec-fetch-site")
    cross_site_allowed = allow_listed and site in ("same-site", "cross-site")
    if site is not None and site != "same-origin" and not cross_site_allowed:
        raise ForbiddenRequestError("cross-site request refused")


def check_csrf(request: Request, settings: Settings, key: bytes, binding: str | None) -> None:
    """The full check for a cookie-authenticated request; `binding` None = header echo only."""
    check_fetch_metadata(request, settings)
    cookie = request.cookies.get(CSRF_COOKIE)
    header = request.headers.get(CSRF_HEADER)
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise ForbiddenRequestError("missing or mismatched CSRF token")
    if binding is not None and not csrf_token_is_bound(key, cookie, binding):
        raise ForbiddenRequestError("CSRF token is not valid for this session")


def csrf_session_check(request: Request, settings: Settings, key: bytes) -> SessionCheck:
    """The check a cookie refresh or cookie logout hands its use case: the CSRF token must be
    bound to the session the refresh cookie belongs to (see `check_csrf`)."""

    def check(session_id: str | None) -> None:
        check_csrf(request, settings, key, session_id)

    return check


def set_csrf_cookie(response: Response, settings: Settings, token: str, max_age: int) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=max_age,
        path="/",
        secure=settings.cookies_secure,
        httponly=False,
        samesite="strict",
    )


def set_refresh_cookie(response: Response, settings: Settings, token: str, max_age: int) -> None:
    response.set_cookie(
        refresh_cookie_name(settings),
        token,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        secure=settings.cookies_secure,
        httponly=True,
        samesite="strict",
    )


def clear_browser_cookies(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        refresh_cookie_name(settings),
        path=REFRESH_COOKIE_PATH,
        secure=settings.cookies_secure,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=settings.cookies_secure, samesite="strict")
