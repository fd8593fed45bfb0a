"""`/v1/auth/login`, `/csrf`, `/logout`, `/logout-all`: starting and ending sessions.

Web login (and cookie logout) are browser requests: they pass the CSRF and fetch-metadata
checks of `browser_security`, and tokens travel in cookies; mobile gets its refresh token in
the body and logs out with its bearer token. Login is rate limited per account+IP and per IP.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from tessera import InvalidTokenError, Principal

from auth_service.api.browser_security import (
    ANONYMOUS_BINDING,
    ANONYMOUS_CSRF_MAX_AGE,
    check_csrf,
    clear_browser_cookies,
    make_csrf_token,
    refresh_cookie_name,
    set_csrf_cookie,
    set_refresh_cookie,
)
from auth_service.api.client_context import request_context
from auth_service.api.deps import CurrentPrincipal, RuntimeDep
from auth_service.api.schemas import CsrfResponse, LoginRequest, TokenResponse
from auth_service.domain.login import ClientId, log_in
from auth_service.domain.session_management import (
    Caller,
    log_out,
    log_out_everywhere,
    session_of_refresh_token,
)
from auth_service.domain.users import normalize_email

router = APIRouter(prefix="/v1/auth", tags=["auth"])
CLEAR_SITE_DATA = '"cookies", "storage"'


def no_store(response: Response) -> None:
    """Token responses must never be cached (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def caller_of(principal: Principal) -> Caller:
    return Caller(subject=principal.sub, session_id=principal.sid, token_version=principal.ver)


@router.get("/csrf")
async def csrf(response: Response, runtime: RuntimeDep) -> CsrfResponse:
    """A fresh pre-login CSRF cookie; the SPA calls this right before web login."""
    token = make_csrf_token(runtime.csrf_key, ANONYMOUS_BINDING)
    set_csrf_cookie(response, runtime.settings, token, ANONYMOUS_CSRF_MAX_AGE)
    no_store(response)
    return CsrfResponse(csrf_token=token)


@router.post("/login", response_model_exclude_none=True)
async def login(
    body: LoginRequest, request: Request, response: Response, runtime: RuntimeDep
) -> TokenResponse:
    settings = runtime.settings
    context = request_context(request, settings.trusted_proxies)
    ip = context.ip or "unknown"
    account = normalize_email(body.email)
    await runtime.rate_limiter.hit("login-ip", ip)
    await runtime.rate_limiter.hit("login-account", account, ip)
    if body.client_id is ClientId.WEB:
        check_csrf(request, settings, runtime.csrf_key, ANONYMOUS_BINDING)
    async with runtime.storage.unit_of_work() as uow:
        result = await log_in(
            uow=uow,
            hasher=runtime.password_hasher,
            issuer=runtime.token_issuer,
            email=body.email,
            password=body.password,
            client_id=body.client_id,
            now=runtime.now(),
            context=context,
        )
    await runtime.rate_limiter.reset("login-account", account, ip)
    no_store(response)
    if body.client_id is ClientId.MOBILE:
        return TokenResponse(
            access_token=result.access_token.token,
            expires_in=result.access_token.expires_in,
            refresh_token=result.refresh_token,
        )
    lifetime = runtime.session_policy.lifetime(body.client_id.value)
    max_age = int(timedelta(seconds=lifetime.absolute_seconds).total_seconds())
    set_refresh_cookie(response, settings, result.refresh_token, max_age)
    csrf_token = make_csrf_token(runtime.csrf_key, result.session_id)
    set_csrf_cookie(response, settings, csrf_token, max_age)
    return TokenResponse(
        access_token=result.access_token.token, expires_in=result.access_token.expires_in
    )


async def _optional_body_refresh_token(request: Request) -> str | None:
    raw = await request.body()
    if not raw:
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            parsed = json.loads(raw)
        except ValueError:
            return None
        token = parsed.get("refresh_token") if isinstance(parsed, dict) else None
        return token if isinstance(token, str) else None
    token = (await request.form()).get("refresh_token")
    return token if isinstance(token, str) else None


async def _bearer_principal(request: Request, authorization: str | None) -> Principal:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidTokenError("a bearer access token or the refresh cookie is required")
    principal: Principal = await request.app.state.token_verifier.verify(token.strip())
    return principal


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request,
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """End this session: by the refresh cookie (web, with CSRF) or by the bearer token (mobile;
    a refresh token in the body must be of the same session, else 403 and nothing ends)."""
    settings = runtime.settings
    context = request_context(request, settings.trusted_proxies)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    cookie_token = request.cookies.get(refresh_cookie_name(settings))
    if cookie_token:
        async with runtime.storage.unit_of_work() as uow:
            session = await session_of_refresh_token(uow, cookie_token)
        check_csrf(request, settings, runtime.csrf_key, session.id if session else None)
        bearer: Caller | None = None
        refresh_token: str | None = cookie_token
        clear_browser_cookies(response, settings)
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    else:
        bearer = caller_of(await _bearer_principal(request, authorization))
        refresh_token = await _optional_body_refresh_token(request)
    async with runtime.storage.unit_of_work() as uow:
        await log_out(
            uow,
            runtime.session_policy,
            bearer=bearer,
            refresh_token=refresh_token,
            now=runtime.now(),
            context=context,
        )
    return response


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(
    request: Request, principal: CurrentPrincipal, runtime: RuntimeDep
) -> Response:
    """End every session of the caller and make all their access tokens stale."""
    settings = runtime.settings
    async with runtime.storage.unit_of_work() as uow:
        await log_out_everywhere(
            uow,
            runtime.session_policy,
            caller_of(principal),
            now=runtime.now(),
            context=request_context(request, settings.trusted_proxies),
        )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if request.cookies.get(refresh_cookie_name(settings)):
        clear_browser_cookies(response, settings)
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response
