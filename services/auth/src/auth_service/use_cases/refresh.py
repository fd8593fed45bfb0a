"""Refresh-token rotation with reuse detection and a grace window (DESIGN §3, ADR 0004).

`RefreshTokens.rotate` runs in one unit of work that first locks the presented token's row, so
two refreshes of the same token serialise: the first rotates (marks it used, adds exactly one
successor), the second then finds it used and is either a benign repeat or reuse.

    presented token      what happens
    ───────────────────  ─────────────────────────────────────────────────────────────────
    live (unused)        rotate: mark used, seal the successor under HKDF(raw token), issue
    used, the immediate  the same successor again, opened from the sealed copy (a lost
    parent of the live   response, two tabs); the window is a timestamp comparison
    token, inside grace, (`now - used_at <= grace`, see `_inside_grace_window`)
    same client, live
    any other used one   theft assumed, whatever else is wrong (another client, an expired
                         session): revoke the whole family, write a revocation event and an
                         audit row, answer invalid_grant
    unknown, of a        invalid_grant, nothing changes
    revoked session, or
    live but of another
    client or expired

Every refusal is the same `invalid_grant` text (`REFUSED`): the presenter never learns which
check failed (reuse itself is in the audit log).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth_service.domain.access_tokens import AccessTokenIssuer, IssuedAccessToken, grant_for_user
from auth_service.domain.ports import RateLimiter, UnitOfWork, UnitsOfWork
from auth_service.domain.refresh_tokens import (
    generate_refresh_token,
    hash_refresh_token,
    hashes_match,
    looks_like_refresh_token,
    open_successor,
    seal_successor,
)
from auth_service.domain.session_revocation import revoke_session
from auth_service.domain.sessions import (
    AuditEntry,
    RefreshTokenRecord,
    RequestContext,
    RevocationReason,
    Rotation,
    Session,
    SessionPolicy,
)
from auth_service.errors import InvalidGrantError

REFUSED = "the refresh token is invalid, expired or revoked"
"""The one description of every refused refresh token: it never says which check failed."""

SessionCheck = Callable[[str | None], None]
"""Called with the id of the session a presented token belongs to (None: no such token) before
anything changes; raises to refuse (the browser's CSRF binding, `api/browser_security.py`)."""


@dataclass(frozen=True)
class RefreshResult:
    session: Session
    refresh_token: str
    access_token: IssuedAccessToken
    # True when a repeat inside the grace window got the successor it was already given
    repeated: bool


@dataclass
class RefreshTokens:
    """Rotates refresh tokens (`POST /v1/auth/token`, `grant_type=refresh_token`)."""

    units_of_work: UnitsOfWork
    issuer: AccessTokenIssuer
    policy: SessionPolicy
    limiter: RateLimiter
    clock: Callable[[], datetime]

    async def rotate(
        self,
        *,
        presented: str,
        client_id: str,
        context: RequestContext,
        check_session: SessionCheck | None = None,
    ) -> RefreshResult:
        """Rotate `presented` (or replay its successor); `InvalidGrantError` for anything
        refused.

        Only refused refreshes count against the caller's IP (`refresh-ip`): an office behind
        one address refreshes hundreds of sessions a minute, legitimately, while a caller
        presenting token after unknown token is guessing (or replaying). Once an IP is over
        the limit it is refused before any lookup, by this process's memory of it: a
        successful refresh costs no call to the limiter's storage.
        """
        ip = context.ip or "unknown"
        self.limiter.refuse_if_known_over("refresh-ip", ip)
        try:
            if check_session is not None:
                check_session(await self._session_id_of(presented))
            now = self.clock()
            async with self.units_of_work() as uow:
                return await refresh_session(
                    uow=uow,
                    issuer=self.issuer,
                    policy=self.policy,
                    presented=presented,
                    client_id=client_id,
                    now=now,
                    context=context,
                )
        except InvalidGrantError:
            await self.limiter.hit("refresh-ip", ip)  # RateLimitedError once over the limit
            raise

    async def _session_id_of(self, presented: str) -> str | None:
        async with self.units_of_work() as uow:
            session = await session_of_refresh_token(uow, presented)
        return session.id if session is not None else None


async def session_of_refresh_token(uow: UnitOfWork, refresh_token: str) -> Session | None:
    """The session a refresh token (of any generation) belongs to, without changing anything."""
    if not looks_like_refresh_token(refresh_token):
        return None
    record = await uow.refresh_tokens.get(hash_refresh_token(refresh_token))
    return await uow.sessions.get(record.session_id) if record is not None else None


async def refresh_session(
    *,
    uow: UnitOfWork,
    issuer: AccessTokenIssuer,
    policy: SessionPolicy,
    presented: str,
    client_id: str,
    now: datetime,
    context: RequestContext,
) -> RefreshResult:
    """Rotate `presented` (or replay its successor); `InvalidGrantError` for anything refused.

    A used token is looked at first: unless it is a benign repeat (the grace window, the same
    client, a live session), it revokes the family whatever else is wrong with the request, so
    a stolen old token cannot probe whether its session lives. Every refusal says the same.
    """
    if not looks_like_refresh_token(presented):
        raise InvalidGrantError(REFUSED)
    locked = await uow.refresh_tokens.lock(hash_refresh_token(presented))
    if locked is None or locked.session.revoked_at is not None:
        raise InvalidGrantError(REFUSED)
    record, session, user = locked.record, locked.session, locked.user
    live = session.client_id == client_id and session.expiry(policy, now) is None

    def audit(event: str) -> AuditEntry:
        detail = {"generation": record.generation + 1}
        return AuditEntry.of_session(event, session, at=now, context=context, detail=detail)

    if record.used_at is not None:
        repeat = live and await _successor_for_repeat(uow, policy, record, presented, now)
        if not repeat:
            await _revoke_for_reuse(uow, policy, session, record, now=now, context=context)
            raise InvalidGrantError(REFUSED)
        successor, repeated = repeat, True
        await uow.audit.record(audit("refresh.repeat"))
    elif not live:
        # a live token of another client or of an ended session: refused, the family untouched
        raise InvalidGrantError(REFUSED)
    else:
        successor, repeated = generate_refresh_token(), False
        await uow.refresh_tokens.record_rotation(
            _rotation(policy, record, presented, successor, now=now, audit=audit("refresh"))
        )

    access = issuer.issue(grant_for_user(user, session))
    await uow.commit()
    return RefreshResult(session, successor, access, repeated)


def _rotation(
    policy: SessionPolicy,
    record: RefreshTokenRecord,
    presented: str,
    successor: str,
    *,
    now: datetime,
    audit: AuditEntry,
) -> Rotation:
    """What rotating `presented` to `successor` writes (one statement on PostgreSQL)."""
    sealed = None
    if policy.grace_seconds > 0:
        sealed = seal_successor(presented, successor, session_id=record.session_id)
    return Rotation(
        presented=record,
        successor=RefreshTokenRecord(
            token_hash=hash_refresh_token(successor),
            session_id=record.session_id,
            generation=record.generation + 1,
            created_at=now,
        ),
        sealed_successor=sealed,  # the family's previous sealed copy is forgotten
        at=now,
        audit=audit,
    )


async def _successor_for_repeat(
    uow: UnitOfWork,
    policy: SessionPolicy,
    record: RefreshTokenRecord,
    presented: str,
    now: datetime,
) -> str | None:
    """The successor again if this is a benign repeat, else None (reuse)."""
    if policy.grace_seconds <= 0 or record.used_at is None or record.sealed_successor is None:
        return None
    if not _inside_grace_window(policy, used_at=record.used_at, now=now):
        return None
    if record.successor_hash is None:
        return None
    successor_record = await uow.refresh_tokens.get(record.successor_hash)
    if successor_record is None or successor_record.used_at is not None:
        return None  # not the immediate parent of the live token
    successor = open_successor(presented, record.sealed_successor, session_id=record.session_id)
    # constant time, like every comparison of a secret or its hash in auth
    if successor is None or not hashes_match(hash_refresh_token(successor), record.successor_hash):
        return None
    return successor


def _inside_grace_window(policy: SessionPolicy, *, used_at: datetime, now: datetime) -> bool:
    """Whether a repeat at `now` of a token rotated at `used_at` is still a benign one.

    Only the upper bound counts. `now` is read before the row lock is taken, while `used_at` is
    the clock reading of whichever request won the lock, so a request that lost the race (or ran
    on a replica whose clock is a little behind) sees `used_at` *after* its own `now`. That
    negative age is the very case the window exists for, never theft: refusing it would revoke
    the family of a user who merely refreshed twice at once. Past the window, reuse is exact.
    """
    return now - used_at <= timedelta(seconds=policy.grace_seconds)


async def _revoke_for_reuse(
    uow: UnitOfWork,
    policy: SessionPolicy,
    session: Session,
    record: RefreshTokenRecord,
    *,
    now: datetime,
    context: RequestContext,
) -> None:
    await revoke_session(
        uow,
        policy,
        session,
        reason=RevocationReason.REUSE_DETECTED,
        now=now,
        context=context,
        detail={"family": session.id, "presented_generation": record.generation},
    )
    await uow.commit()
