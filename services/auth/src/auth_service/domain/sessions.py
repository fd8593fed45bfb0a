"""Sessions (DESIGN §3): a session is one sign-in on one device, i.e. one refresh-token family.

Its id is `sid` in every access token minted for it. It keeps how the user last authenticated
interactively (`authenticated_at`, `acr`, `amr`: DESIGN §11), which every access token of the
session carries as `auth_time`/`acr`/`amr`, unchanged by refreshes; only a new sign-in or a
step-up changes them. A session ends by revocation (logout,
logout-all, password change, an admin, or detected refresh-token reuse) or by expiry: idle (no
refresh for too long) or absolute (too old), with limits per client type. Expiry is computed
from timestamps whenever the session is used or listed; nothing has to run for it to happen.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from tessera.tokens.step_up import ACR_PWD

from auth_service.domain.users import User

RevocationKind = Literal["session", "user", "token", "key"]


class ClientId(enum.StrEnum):
    """The first-party clients that sign users in (and refresh their sessions)."""

    WEB = "web"
    MOBILE = "mobile"


@dataclass(frozen=True)
class Caller:
    """A verified access token's identity, as the use cases need it."""

    subject: str
    session_id: str | None
    token_version: int


class RevocationReason(enum.StrEnum):
    """Why a session ended early (stored with it, shown in the audit log)."""

    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    REVOKED_BY_USER = "revoked_by_user"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 (a reason, not a password)
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a reason, not a password)
    ADMIN = "admin"
    REUSE_DETECTED = "reuse_detected"


@dataclass(frozen=True)
class SessionLifetime:
    idle_seconds: int
    absolute_seconds: int


@dataclass(frozen=True)
class SessionPolicy:
    """Lifetimes per client, the refresh grace window, and how long revocation events matter."""

    lifetimes: Mapping[str, SessionLifetime]
    grace_seconds: float
    longest_access_token_seconds: int
    """The longest lifetime auth can be configured with, not the current one: lowering the
    lifetime must not shorten the events that guard tokens issued before."""

    def lifetime(self, client_id: str) -> SessionLifetime:
        return self.lifetimes[client_id]

    def event_expires_at(self, now: datetime) -> int:
        """A revocation event must outlive every access token already issued (unix seconds)."""
        return int(now.timestamp()) + self.longest_access_token_seconds + 1


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from, as sessions and the audit log record it."""

    ip: str | None = None
    user_agent: str | None = None

    def user_agent_for_storage(self) -> str | None:
        return self.user_agent[:512] if self.user_agent else None


@dataclass
class Session:
    id: str
    user_id: uuid.UUID
    client_id: str
    user_agent: str | None
    ip: str | None
    created_at: datetime
    last_used_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    authenticated_at: datetime | None = None
    """The last interactive authentication (None: the sign-in, `created_at`)."""
    acr: str = ACR_PWD
    amr: tuple[str, ...] = ("pwd",)

    @property
    def auth_time(self) -> int:
        """`authenticated_at` as a NumericDate (the tokens' `auth_time`)."""
        return int((self.authenticated_at or self.created_at).timestamp())

    def expiry(self, policy: SessionPolicy, now: datetime) -> str | None:
        """'idle' or 'absolute' if the session has expired at `now`, else None."""
        lifetime = policy.lifetime(self.client_id)
        if now >= self.created_at + timedelta(seconds=lifetime.absolute_seconds):
            return "absolute"
        if now >= self.last_used_at + timedelta(seconds=lifetime.idle_seconds):
            return "idle"
        return None

    def is_active(self, policy: SessionPolicy, now: datetime) -> bool:
        return self.revoked_at is None and self.expiry(policy, now) is None


@dataclass
class RefreshTokenRecord:
    """One generation of a family, as stored: its hash, and once rotated, its successor's."""

    token_hash: bytes
    session_id: str
    generation: int
    created_at: datetime
    used_at: datetime | None = None
    successor_hash: bytes | None = None
    sealed_successor: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PresentedToken:
    """A presented refresh token's row with its session and the session's user: everything a
    rotation decides on, read in one statement (`RotationConnection.find`, or
    `RefreshTokenRepository.lock`, which also holds the row until commit)."""

    record: RefreshTokenRecord
    session: Session
    user: User


@dataclass(frozen=True)
class Rotation:
    """What a rotation writes, all at `at`: the presented token used, its successor stored
    (and sealed inside it for the grace window), the previous sealed successor of the family
    forgotten, the session touched, the audit row; written only if the presented token is
    still unused (`RotationConnection.rotate_if_unused`, `RefreshTokenRepository.record_rotation`).
    """

    presented: RefreshTokenRecord
    successor: RefreshTokenRecord
    sealed_successor: bytes | None
    at: datetime
    audit: AuditEntry


@dataclass(frozen=True)
class Revocation:
    """One revocation event to publish (DESIGN §4): what is revoked, and until when it matters.

    `value` is a sid, a user id (with `min_ver`: tokens of a lower `ver` are dead), a jti or a
    kid; `expires_at` (unix seconds) is when the last token it can match expires.
    """

    kind: RevocationKind
    value: str
    expires_at: int
    created_at: datetime
    min_ver: int | None = None

    def __post_init__(self) -> None:
        if (self.kind == "user") != (self.min_ver is not None):
            raise ValueError("min_ver is required for user events and only for them")


@dataclass(frozen=True)
class AuditEntry:
    """One audit row: what happened, to whom, by whom, from where. Never a secret."""

    event: str
    occurred_at: datetime
    user_id: str | None = None
    actor_id: str | None = None
    session_id: str | None = None
    client_id: str | None = None
    context: RequestContext = RequestContext()
    detail: Mapping[str, Any] | None = None

    @classmethod
    def of_session(
        cls,
        event: str,
        session: Session,
        *,
        at: datetime,
        context: RequestContext,
        actor_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """An entry about one session: its user, id and client come from it."""
        return cls(
            event,
            at,
            user_id=str(session.user_id),
            actor_id=actor_id,
            session_id=session.id,
            client_id=session.client_id,
            context=context,
            detail=detail,
        )
