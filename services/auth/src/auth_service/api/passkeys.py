"""Passkeys: `/v1/users/me/passkeys` (the caller's, managed behind a recent sign-in) and
`/v1/auth/passkey/*` (passwordless sign-in, browsers only: cookies and login CSRF like
`/login`). Every options call answers `{"challenge_id", "publicKey"}`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status
from tessera.http.deps import bearer_token
from tessera.http.openapi import problem_responses

from auth_service.api.browser_security import ANONYMOUS_BINDING, check_csrf
from auth_service.api.deps import (
    ContextDep,
    CurrentCaller,
    OptionalAuthorization,
    RuntimeDep,
    caller_of,
)
from auth_service.api.login import login_answer
from auth_service.api.schemas import (
    PasskeyListResponse,
    PasskeyOptionsRequest,
    PasskeyOptionsResponse,
    PasskeyRegistrationRequest,
    PasskeyResponse,
    PasskeySignInRequest,
    TokenResponse,
)
from auth_service.domain.sessions import ClientId
from auth_service.use_cases.passkeys import CeremonyOptions

router = APIRouter(tags=["passkeys"], responses=problem_responses(404))


def _options(options: CeremonyOptions, response: Response) -> PasskeyOptionsResponse:
    response.headers["Cache-Control"] = "no-store"
    return PasskeyOptionsResponse.model_validate(
        {"challenge_id": options.challenge_id, "publicKey": options.public_key}
    )


@router.post("/v1/users/me/passkeys/options", response_model_by_alias=True)
async def registration_options(
    caller: CurrentCaller, runtime: RuntimeDep, response: Response
) -> PasskeyOptionsResponse:
    """Creation options for a new passkey (a sign-in within 5 minutes, a verified address)."""
    return _options(await runtime.passkeys.registration_options(caller), response)


@router.post("/v1/users/me/passkeys", status_code=status.HTTP_201_CREATED)
async def register(
    body: PasskeyRegistrationRequest,
    caller: CurrentCaller,
    context: ContextDep,
    runtime: RuntimeDep,
) -> PasskeyResponse:
    """Store the passkey the authenticator created for the options' challenge; 400 if its
    answer does not verify (nothing is stored)."""
    passkey = await runtime.passkeys.register(
        caller,
        challenge_id=body.challenge_id,
        credential=body.credential,
        name=body.name,
        context=context,
    )
    return PasskeyResponse.of(passkey)


@router.get("/v1/users/me/passkeys")
async def list_passkeys(caller: CurrentCaller, runtime: RuntimeDep) -> PasskeyListResponse:
    return PasskeyListResponse(
        items=[PasskeyResponse.of(item) for item in await runtime.passkeys.registered(caller)]
    )


@router.delete("/v1/users/me/passkeys/{passkey_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove(
    passkey_id: uuid.UUID, caller: CurrentCaller, context: ContextDep, runtime: RuntimeDep
) -> Response:
    """Remove one of the caller's passkeys (a sign-in within 5 minutes)."""
    await runtime.passkeys.remove(caller, passkey_id, context=context)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/auth/passkey/options", response_model_by_alias=True)
async def sign_in_options(
    request: Request,
    runtime: RuntimeDep,
    response: Response,
    context: ContextDep,
    body: PasskeyOptionsRequest | None = None,
    authorization: OptionalAuthorization = None,
) -> PasskeyOptionsResponse:
    """Request options: with a bearer token, for a step-up of its session; with an
    `mfa_token`, for the second step of a password login; else for a passwordless sign-in
    (any of this site's passkeys)."""
    if authorization is not None:
        principal = await request.app.state.token_verifier.verify(bearer_token(authorization))
        return _options(await runtime.passkeys.step_up_options(caller_of(principal)), response)
    ip = context.ip or "unknown"
    if body is not None:
        return _options(await runtime.passkeys.mfa_options(body.mfa_token, ip=ip), response)
    return _options(await runtime.passkeys.sign_in_options(ip=ip), response)


@router.post("/v1/auth/passkey/login", response_model_exclude_none=True)
async def sign_in(
    body: PasskeySignInRequest,
    request: Request,
    response: Response,
    context: ContextDep,
    runtime: RuntimeDep,
) -> TokenResponse:
    """Sign in with a passkey (acr phr): the browser's answer to the options' challenge."""
    check_csrf(request, runtime.settings, runtime.csrf_key, ANONYMOUS_BINDING)
    result = await runtime.passkeys.sign_in(
        challenge_id=body.challenge_id,
        credential=body.credential,
        client_id=ClientId.WEB,
        context=context,
    )
    return login_answer(result, ClientId.WEB, response, runtime)
