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
        refused. Rate limited per IP (`refresh-ip`) before any lookup."""
        await self.limiter.hit("refresh-ip", context.ip or "unknown")
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
    record = await uow.refresh_tokens.lock(hash_refresh_token(presented))
    if record is None:
        raise InvalidGrantError(REFUSED)
    session = await uow.sessions.get(record.session_id)
    if session is None or session.revoked_at is not None:
        raise InvalidGrantError(REFUSED)
    live = session.client_id == client_id and session.expiry(policy, now) is None
    user = await uow.users.get(session.user_id) if live else None
    if record.used_at is not None:
        repeat = None
        if user is not None:
            repeat = await _successor_for_repeat(uow, policy, record, presented, now)
        if repeat is None:
            await _revoke_for_reuse(uow, policy, session, record, now=now, context=context)
            raise InvalidGrantError(REFUSED)
        successor, repeated = repeat, True
    elif user is None:
        # a live token of another client or of an ended session: refused, the family untouched
        raise InvalidGrantError(REFUSED)
    else:
        successor = await _rotate(uow, policy, record, presented=presented, now=now)
        repeated = False
    assert user is not None  # a repeat is only looked for with one

    access = issuer.issue(grant_for_user(user, session))
    await uow.audit.record(
        AuditEntry.of_session(
            "refresh.repeat" if repeated else "refresh",
            session,
            at=now,
            context=context,
            detail={"generation": record.generation + 1},
        )
    )
    await uow.commit()
    return RefreshResult(session, successor, access, repeated)


async def _rotate(
    uow: UnitOfWork,
    policy: SessionPolicy,
    record: RefreshTokenRecord,
    *,
    presented: str,
    now: datetime,
) -> str:
    successor = generate_refresh_token()
    sealed = None
    if policy.grace_seconds > 0:
        sealed = seal_successor(presented, successor, session_id=record.session_id)
    # the previous parent's sealed copy is useless from now on: only the live token's parent counts
    await uow.refresh_tokens.clear_sealed(record.session_id)
    successor_hash = hash_refresh_token(successor)
    await uow.refresh_tokens.mark_rotated(
        record.token_hash, used_at=now, successor_hash=successor_hash, sealed=sealed
    )
    await uow.refresh_tokens.add(
        RefreshTokenRecord(
            token_hash=successor_hash,
            session_id=record.session_id,
            generation=record.generation + 1,
            created_at=now,
        )
    )
    await uow.sessions.touch(record.session_id, now)
    return successor


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
