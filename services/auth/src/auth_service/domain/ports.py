"""What the domain needs from storage, as Protocols the adapters implement.

One `UnitOfWork` is one database transaction: everything a use case changes through its
repositories commits together or not at all (sessions, audit records and revocation events
share the transaction with `users`, so a revocation and its event can never be split). A use
case opens one with `async with units_of_work() as uow:`; what it does not commit is rolled
back when the block ends. `RateLimiter` is the shared attempt counter (Redis, or in process).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, Self

from auth_service.domain.email_tokens import EmailToken, EmailTokenPurpose
from auth_service.domain.mail import OutboxEntry
from auth_service.domain.mfa import MfaChallenge, TotpFactor
from auth_service.domain.passkeys import Ceremony, CeremonyPurpose, Passkey
from auth_service.domain.revocation_feed import FeedBounds, FeedEvent
from auth_service.domain.sessions import (
    AuditEntry,
    PresentedToken,
    RefreshTokenRecord,
    Revocation,
    Rotation,
    Session,
)
from auth_service.domain.users import Role, User


class UserRepository(Protocol):
    async def get(self, user_id: uuid.UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None:
        """Find a user by email, ignoring case."""
        ...

    async def add(self, user: User) -> None:
        """Store a new user; raises `EmailAlreadyRegisteredError` if the email is taken."""
        ...

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None: ...

    async def mark_email_verified(self, user_id: uuid.UUID, *, now: datetime) -> None:
        """Record that the user proved the address (kept at the first proof)."""
        ...

    async def set_roles(self, user_id: uuid.UUID, roles: frozenset[Role]) -> int:
        """Replace the roles and bump the token version (old tokens carry old roles); returns it."""
        ...

    async def bump_token_version(self, user_id: uuid.UUID) -> int:
        """Make every access token issued so far stale; returns the new version."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: str) -> Session | None: ...

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[Session]:
        """The user's sessions not revoked (expired ones included; the caller filters)."""
        ...

    async def authenticate(
        self, session_id: str, *, at: datetime, acr: str, amr: tuple[str, ...]
    ) -> None:
        """Record a new interactive authentication of the session (a step-up)."""
        ...

    async def signed_in_from(self, email: str, ip: str, *, since: datetime) -> bool:
        """Whether the account with `email` started a session from `ip` after `since`."""
        ...

    async def revoke(self, session_id: str, *, now: datetime, reason: str) -> bool:
        """Mark one session revoked; False if it already was (or does not exist)."""
        ...


class RefreshTokenRepository(Protocol):
    async def lock(self, token_hash: bytes) -> PresentedToken | None:
        """Read a token row with its session and user, and hold the token row until commit,
        serialising decisions on the same token (one statement).

        Must be the first statement of its unit of work (SQLite serialises with BEGIN IMMEDIATE).
        """
        ...

    async def get(self, token_hash: bytes) -> RefreshTokenRecord | None: ...

    async def add(self, record: RefreshTokenRecord) -> None: ...

    async def record_rotation(self, rotation: Rotation) -> bool:
        """Write everything a rotation changes in the family (see `Rotation`) if the presented
        token is still unused; False if it is not (then the unit of work must not commit)."""
        ...

    async def clear_sealed(self, session_id: str) -> None:
        """Forget every sealed successor of a family (when it is revoked)."""
        ...


class RotationConnection(Protocol):
    """A rotation's common case, a live unused token, on a connection of its own without a
    unit of work: a read, then a write, each its own transaction (the refresh hot path,
    docs/performance.md; on PostgreSQL each is one statement, on SQLite the write is five in
    `BEGIN IMMEDIATE` ... `COMMIT`). `async with rotation_connections() as db:`. Whatever
    else a refresh meets (a used token, a race lost between the two) is decided in a unit of
    work that locks the row (`RefreshTokenRepository.lock`), after this connection is given
    back."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def find(self, token_hash: bytes) -> PresentedToken | None:
        """The token with its session and user, as committed now (no lock)."""
        ...

    async def rotate_if_unused(self, rotation: Rotation) -> bool:
        """Write `rotation` in one transaction if the presented token is still unused; False,
        and nothing written, if another request used it first."""
        ...


class EmailTokenRepository(Protocol):
    async def add(self, token: EmailToken) -> None: ...

    async def consume(
        self, token_hash: bytes, purpose: EmailTokenPurpose, *, now: datetime
    ) -> uuid.UUID | None:
        """Use a live token up (exactly once, whatever runs concurrently); its user, or None
        for a token that is unknown, of another purpose, used or expired."""
        ...

    async def revoke_all(
        self, user_id: uuid.UUID, purpose: EmailTokenPurpose, *, now: datetime
    ) -> None:
        """Use up every live token of the user for `purpose` (a newer one replaces them)."""
        ...


class MailOutbox(Protocol):
    """Mails and mail requests, written in the unit of work's transaction (DESIGN §11)."""

    async def add(self, entry: OutboxEntry) -> None: ...

    async def close_request(self, entry_id: uuid.UUID, *, resolved: bool) -> None:
        """Mark a request resolved into a mail, or dropped (the worker's transaction)."""
        ...


class MfaRepository(Protocol):
    """Second factors; every use of a code or token consumes it with a conditional UPDATE."""

    async def totp(self, user_id: uuid.UUID) -> TotpFactor | None: ...

    async def put_pending_totp(self, user_id: uuid.UUID, sealed: bytes, *, now: datetime) -> bool:
        """Store a pending factor, replacing a pending one; False (nothing stored) if one is on."""
        ...

    async def activate_totp(
        self, user_id: uuid.UUID, sealed: bytes, *, now: datetime, step: int
    ) -> bool:
        """Turn the pending factor with this sealed secret on, its confirming code's step used;
        False if it no longer pends (turned on, or replaced by a newer enrolment)."""
        ...

    async def use_totp_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Consume `step` of the active factor: True only if it is later than every step used."""
        ...

    async def remove_pending_totp(self, user_id: uuid.UUID) -> bool:
        """Remove the factor only while it is pending; False if there is none pending."""
        ...

    async def remove_all(self, user_id: uuid.UUID) -> bool:
        """Remove the TOTP factor and every recovery code; whether there was a factor."""
        ...

    async def replace_recovery_codes(
        self, user_id: uuid.UUID, code_hashes: Sequence[bytes], *, now: datetime
    ) -> None: ...

    async def use_recovery_code(
        self, user_id: uuid.UUID, code_hash: bytes, *, now: datetime
    ) -> bool:
        """Consume one unused code of the user; False if it is not one."""
        ...

    async def recovery_codes_left(self, user_id: uuid.UUID) -> int: ...

    async def add_challenge(self, challenge: MfaChallenge) -> None: ...

    async def challenge(self, token_hash: bytes) -> MfaChallenge | None: ...

    async def claim_attempt(self, token_hash: bytes, *, now: datetime) -> bool:
        """Spend one of the `mfa_token`'s attempts, if it is still usable (unused, alive, within
        its budget), holding it until commit; False if it is not."""
        ...

    async def use_challenge(self, token_hash: bytes, *, now: datetime) -> bool:
        """Mark the `mfa_token` used (after a claimed attempt succeeded)."""
        ...


class PasskeyRepository(Protocol):
    """Registered passkeys and the challenges of their ceremonies."""

    async def add(self, passkey: Passkey) -> None: ...

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[Passkey]: ...

    async def by_credential_id(self, credential_id: bytes) -> Passkey | None: ...

    async def record_use(self, passkey: Passkey, *, sign_count: int, now: datetime) -> bool:
        """Move the counter from the value checked (False if it moved meanwhile)."""
        ...

    async def flag(self, passkey_id: uuid.UUID, *, now: datetime) -> None:
        """Mark a passkey whose counter went backwards (it signs nobody in any more)."""
        ...

    async def remove(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool: ...

    async def add_ceremony(self, ceremony: Ceremony) -> None: ...

    async def take_ceremony(
        self, ceremony_id: str, purpose: CeremonyPurpose, *, now: datetime
    ) -> Ceremony | None:
        """Use the challenge up (once, alive, of `purpose`); None if it cannot be."""
        ...


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...


class RevocationEvents(Protocol):
    async def record(self, revocation: Revocation) -> None:
        """Add an event to this unit of work's transaction (DESIGN §4 outbox)."""
        ...


class UnitOfWork(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def revocations(self) -> RevocationEvents: ...

    @property
    def email_tokens(self) -> EmailTokenRepository: ...

    @property
    def outbox(self) -> MailOutbox: ...

    @property
    def mfa(self) -> MfaRepository: ...

    @property
    def passkeys(self) -> PasskeyRepository: ...

    async def commit(self) -> None: ...


UnitsOfWork = Callable[[], UnitOfWork]
"""Opens a fresh unit of work (one transaction) per call."""
RotationConnections = Callable[[], RotationConnection]
"""Opens a connection for one rotation's common case per call."""


class RateLimiter(Protocol):
    """Counts attempts per (scope, key...) against the limits configured for the scope; each
    raises `RateLimitedError` (with the seconds to wait) when a limit is exceeded."""

    async def hit(self, scope: str, *key: str) -> None:
        """Count one attempt."""
        ...

    async def check(self, scope: str, *key: str) -> None:
        """Refuse if already over a limit, without counting (for limits of failures only)."""
        ...

    def refuse_if_known_over(self, scope: str, *key: str) -> None:
        """Refuse, without any I/O, a key this process already saw go over a limit (a `hit`
        that raised) until that limit's window ends; for hot paths that count failures only."""
        ...

    async def reset(self, scope: str, *key: str) -> None:
        """Forget the attempts counted (after a success)."""
        ...


class RevocationEventSource(Protocol):
    async def bounds(self) -> FeedBounds: ...

    async def relevant_events(self, *, up_to: int, expiring_after: int) -> Sequence[FeedEvent]:
        """Events with id <= up_to and expires_at >= expiring_after, in id order."""
        ...

    async def events_after(self, after: int, *, limit: int) -> Sequence[FeedEvent]:
        """Events with id > after, in id order, at most `limit`."""
        ...
