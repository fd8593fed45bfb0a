"""`/v1/auth/login`, `/login/mfa`, `/csrf`, `/logout`, `/logout-all`: starting and ending sessions.

Web login (and cookie logout) are browser requests: they pass the CSRF and fetch-metadata
checks of `browser_security`, and tokens travel in cookies; mobile gets its refresh token in
the body and logs out with its bearer token. Login is rate limited per account+IP and per IP.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status
from tessera import InvalidTokenError, Principal, ProblemError
from tessera.http.bodies import decode_json
from tessera.http.openapi import problem_responses

from auth_service.api.browser_security import (
    ANONYMOUS_BINDING,
    ANONYMOUS_CSRF_MAX_AGE,
    check_csrf,
    clear_browser_cookies,
    csrf_session_check,
    make_csrf_token,
    refresh_cookie_name,
    set_csrf_cookie,
    set_refresh_cookie,
)
from auth_service.api.deps import (
    ContextDep,
    CurrentCaller,
    OptionalAuthorization,
    RuntimeDep,
    caller_of,
)
from auth_service.api.schemas import CsrfResponse, LoginRequest, MfaLoginRequest, TokenResponse
from auth_service.bootstrap import AuthRuntime
from auth_service.config import Settings
from auth_service.domain.sessions import Caller, ClientId
from auth_service.use_cases.login import LoginResult

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=problem_responses())
CLEAR_SITE_DATA = '"cookies", "storage"'


def no_store(response: Response) -> None:
    """Token responses must never be cached (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


@router.get("/csrf")
async def csrf(response: Response, runtime: RuntimeDep) -> CsrfResponse:
    """A fresh pre-login CSRF cookie; the SPA calls this right before web login."""
    token = make_csrf_token(runtime.csrf_key, ANONYMOUS_BINDING)
    set_csrf_cookie(response, runtime.settings, token, ANONYMOUS_CSRF_MAX_AGE)
    no_store(response)
    return CsrfResponse(csrf_token=token)


@router.post(
    "/login",
    response_model_exclude_none=True,
    responses=problem_responses(401, 403, 429),
)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    context: ContextDep,
    runtime: RuntimeDep,
) -> TokenResponse:
    """Start a session with the password. With a second factor on: 401 `mfa-required` whose
    body carries the `mfa_token` for `/login/mfa`."""
    if body.client_id is ClientId.WEB:
        check_csrf(request, runtime.settings, runtime.csrf_key, ANONYMOUS_BINDING)
    result = await runtime.logins.log_in(
        email=body.email, password=body.password, client_id=body.client_id, context=context
    )
    return login_answer(result, body.client_id, response, runtime)


@router.post("/login/mfa", response_model_exclude_none=True)
async def login_mfa(
    body: MfaLoginRequest,
    request: Request,
    response: Response,
    context: ContextDep,
    runtime: RuntimeDep,
) -> TokenResponse:
    """The second step: the `mfa_token` of `/login` and a TOTP code or a recovery code; the
    same answer as `/login`. 401 `mfa-code-invalid` for a wrong code (try another),
    `mfa-token-invalid` for a token that cannot be used (sign in again)."""
    if body.client_id is ClientId.WEB:
        check_csrf(request, runtime.settings, runtime.csrf_key, ANONYMOUS_BINDING)
    result = await runtime.logins.complete_mfa(
        mfa_token=body.mfa_token, client_id=body.client_id, factor=body.proof(), context=context
    )
    return login_answer(result, body.client_id, response, runtime)


def login_answer(
    result: LoginResult, client_id: ClientId, response: Response, runtime: AuthRuntime
) -> TokenResponse:
    """The tokens of a new session: mobile gets the refresh token in the body, web as an
    HttpOnly cookie with the session's CSRF cookie."""
    settings: Settings = runtime.settings
    no_store(response)
    if client_id is ClientId.MOBILE:
        return TokenResponse(
            access_token=result.access_token.token,
            expires_in=result.access_token.expires_in,
            refresh_token=result.refresh_token,
        )
    lifetime = runtime.session_policy.lifetime(client_id.value)
    max_age = int(timedelta(seconds=lifetime.absolute_seconds).total_seconds())
    set_refresh_cookie(response, settings, result.refresh_token, max_age)
    csrf_token = make_csrf_token(runtime.csrf_key, result.session_id)
    set_csrf_cookie(response, settings, csrf_token, max_age)
    return TokenResponse(
        access_token=result.access_token.token, expires_in=result.access_token.expires_in
    )


async def _optional_body_refresh_token(request: Request) -> str | None:
    """The refresh token a mobile logout may send; an empty body is fine, a malformed one 400."""
    raw = await request.body()
    if not raw:
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            parsed = decode_json(raw)
        except ValueError:
            raise ProblemError(400, "Bad Request", "The body is not well-formed JSON") from None
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
    context: ContextDep,
    runtime: RuntimeDep,
    authorization: OptionalAuthorization = None,
) -> Response:
    """End this session: by the refresh cookie (web, with CSRF) or by the bearer token (mobile;
    a refresh token in the body must be of the same session, else 403 and nothing ends)."""
    settings = runtime.settings
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    cookie_token = request.cookies.get(refresh_cookie_name(settings))
    if cookie_token:
        await runtime.sessions.log_out(
            bearer=None,
            refresh_token=cookie_token,
            context=context,
            check_session=csrf_session_check(request, settings, runtime.csrf_key),
        )
        clear_browser_cookies(response, settings)
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response
    bearer: Caller = caller_of(await _bearer_principal(request, authorization))
    refresh_token = await _optional_body_refresh_token(request)
    await runtime.sessions.log_out(bearer=bearer, refresh_token=refresh_token, context=context)
    return response


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(
    request: Request, caller: CurrentCaller, context: ContextDep, runtime: RuntimeDep
) -> Response:
    """End every session of the caller and make all their access tokens stale."""
    await runtime.sessions.log_out_everywhere(caller, context=context)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if request.cookies.get(refresh_cookie_name(runtime.settings)):
        clear_browser_cookies(response, runtime.settings)
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response
