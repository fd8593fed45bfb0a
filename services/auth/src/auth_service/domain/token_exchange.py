"""Token exchange (RFC 8693, DESIGN §6): a user's token for a narrower one a service acts with.

orders presents the user's access token as `subject_token` and authenticates as itself; it gets
a token with the same `sub`, `sid`, `ver` and roles, `aud` = only the requested audience, scopes
mapped down by the rules in settings, `client_id` = the caller and `act: {"sub": caller}`. The
result never outlives the subject token.

Checks, in order, and what each failure answers:

    client may not exchange at all ............................... unauthorized_client
    wrong/missing parameters (token types, audience, actor_token) .. invalid_request
    audience not in the client's rules ............................ invalid_target
    subject: bad signature, expired, not issued to the caller (aud),
      not a user token, already delegated (`act`), session revoked,
      user gone or token version behind .......................... invalid_grant
    no scope survives the mapping ................................. invalid_scope
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from tessera.tokens.errors import InvalidTokenError
from tessera.tokens.principal import Principal

from auth_service.domain.access_tokens import AccessTokenGrant, AccessTokenIssuer, IssuedAccessToken
from auth_service.domain.client_credentials import requested_scopes
from auth_service.domain.service_clients import ServiceClient
from auth_service.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    InvalidTargetError,
    UnauthorizedClientError,
)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a URN)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 (a URN)
USER_CLIENT_IDS = frozenset({"web", "mobile"})

# caller -> audience -> user scope -> scopes granted for that audience
ExchangeRules = Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]]


class SubjectTokenVerifier(Protocol):
    """Verifies a subject token for one caller (its `aud` must name the caller)."""

    async def verify(self, token: str) -> Principal: ...


class SubjectStatus(Protocol):
    """Whether the user and session behind a subject token are still in good standing."""

    async def token_version(self, user_id: str) -> int | None:
        """The user's current token version; None if there is no such user."""
        ...

    async def session_is_active(self, session_id: str) -> bool: ...


@dataclass(frozen=True)
class ExchangeRequest:
    """The RFC 8693 parameters we accept (others are refused by the endpoint)."""

    subject_token: str | None
    subject_token_type: str | None
    audience: str | None
    scope: str | None = None
    requested_token_type: str | None = None
    actor_token: str | None = None


@dataclass(frozen=True)
class ExchangeResult:
    token: IssuedAccessToken
    scopes: tuple[str, ...]
    issued_token_type: str = ACCESS_TOKEN_TYPE


def map_scopes(user_scopes: frozenset[str], mapping: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The scopes a user's scopes map to for one audience, in rule order, without duplicates."""
    mapped: dict[str, None] = {}
    for user_scope, granted in mapping.items():
        if user_scope in user_scopes:
            mapped.update(dict.fromkeys(granted))
    return list(mapped)


def _check_parameters(request: ExchangeRequest) -> tuple[str, str]:
    if not request.subject_token:
        raise InvalidRequestError("subject_token is required")
    if request.subject_token_type != ACCESS_TOKEN_TYPE:
        raise InvalidRequestError(f"subject_token_type must be {ACCESS_TOKEN_TYPE}")
    if request.requested_token_type not in (None, ACCESS_TOKEN_TYPE):
        raise InvalidRequestError(f"requested_token_type must be {ACCESS_TOKEN_TYPE}")
    if request.actor_token is not None:
        raise InvalidRequestError("actor_token is not supported: the caller is the actor")
    if not request.audience:
        raise InvalidRequestError("audience is required")
    return request.subject_token, request.audience


async def _verified_subject(
    token: str, caller: str, verifier: SubjectTokenVerifier, status: SubjectStatus, now: int
) -> Principal:
    try:
        subject = await verifier.verify(token)
    except InvalidTokenError as exc:
        raise InvalidGrantError(f"subject token rejected: {exc.description}") from None
    if subject.expires_at <= now:
        raise InvalidGrantError("subject token has expired")
    if subject.client_id not in USER_CLIENT_IDS or subject.sid is None:
        raise InvalidGrantError("subject token is not a user token")
    if subject.actor is not None:
        raise InvalidGrantError("subject token is already delegated (it has act)")
    if caller not in subject.audience:  # the verifier checks this too; kept explicit
        raise InvalidGrantError(f"subject token is not meant for {caller}")
    current_version = await status.token_version(subject.sub)
    if current_version is None or subject.ver < current_version:
        raise InvalidGrantError("subject token's user has been revoked")
    if not await status.session_is_active(subject.sid):
        raise InvalidGrantError("subject token's session has been revoked")
    return subject


async def exchange_token(
    client: ServiceClient,
    request: ExchangeRequest,
    *,
    rules: ExchangeRules,
    verifier: SubjectTokenVerifier,
    status: SubjectStatus,
    issuer: AccessTokenIssuer,
    now: int,
) -> ExchangeResult:
    """Exchange `request.subject_token` for a token `client` may use towards the audience."""
    client_rules = rules.get(client.client_id)
    if not client.may_use(TOKEN_EXCHANGE) or not client_rules:
        raise UnauthorizedClientError("this client may not exchange tokens")
    subject_token, audience = _check_parameters(request)
    if audience not in client_rules:
        raise InvalidTargetError(f"this client may not exchange tokens for audience {audience!r}")
    subject = await _verified_subject(subject_token, client.client_id, verifier, status, now)
    scopes = map_scopes(subject.scopes, client_rules[audience])
    wanted = requested_scopes(request.scope)
    if wanted is not None:
        scopes = [scope for scope in scopes if scope in wanted]
    if not scopes:
        raise InvalidScopeError("no scope of the subject token maps to this audience")
    grant = AccessTokenGrant(
        subject=subject.sub,
        session_id=subject.sid,
        client_id=client.client_id,
        audience=(audience,),
        scopes=tuple(scopes),
        roles=tuple(sorted(subject.roles)),
        token_version=subject.ver,
        actor=client.client_id,
        not_after=subject.expires_at,
        # billing sees how the user authenticated, so it can demand a step-up (RFC 9470)
        auth_time=subject.auth_time,
        acr=subject.acr,
        amr=subject.amr,
    )
    return ExchangeResult(token=issuer.issue(grant), scopes=tuple(scopes))
