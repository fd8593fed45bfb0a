"""Refresh-token rotation with reuse detection and a grace window (DESIGN §3, ADR 0004).

Two refreshes of the same token serialise: the first rotates (marks it used, adds exactly one
successor), the second then finds it used and is either a benign repeat or reuse. The common
case, a live unused token, takes two statements (`RotationConnection`, ADR 0016): read the token
with its session and user, then write the rotation only if the token is still unused. Anything
else, a used token or a race lost between the two, is decided by `refresh_session` in a unit
of work that first locks the token's row.

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
from auth_service.domain.ports import (
    RateLimiter,
    RotationConnection,
    RotationConnections,
    UnitOfWork,
    UnitsOfWork,
)
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
    PresentedToken,
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
    rotation_connections: RotationConnections
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
            return await self._rotate(presented, client_id, context, check_session)
        except InvalidGrantError:
            await self.limiter.hit("refresh-ip", ip)  # RateLimitedError once over the limit
            raise

    async def _rotate(
        self,
        presented: str,
        client_id: str,
        context: RequestContext,
        check_session: SessionCheck | None,
    ) -> RefreshResult:
        now = self.clock()
        async with self.rotation_connections() as db:
            rotated = await self._rotate_unused(
                db, presented, client_id, context, now, check_session
            )
        if rotated is not None:
            token, successor = rotated
            access = self.issuer.issue(grant_for_user(token.user, token.session))
            return RefreshResult(token.session, successor, access, repeated=False)
        # used: a repeat or reuse, decided holding the row (another request may have used
        # the token since it was read: then it is a repeat, inside the grace window)
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

    async def _rotate_unused(
        self,
        db: RotationConnection,
        presented: str,
        client_id: str,
        context: RequestContext,
        now: datetime,
        check_session: SessionCheck | None,
    ) -> tuple[PresentedToken, str] | None:
        """The common case: the presented token and its successor once rotated; None if the
        token is used (now or since it was read); `InvalidGrantError` if refused."""
        found = None
        if looks_like_refresh_token(presented):
            found = await db.find(hash_refresh_token(presented))
        if check_session is not None:
            check_session(found.session.id if found is not None else None)
        if found is None or found.session.revoked_at is not None:
            raise InvalidGrantError(REFUSED)
        if found.record.used_at is not None:
            return None
        if not _is_live(found, client_id, self.policy, now):
            raise InvalidGrantError(REFUSED)  # of another client, or an ended session
        successor = generate_refresh_token()
        rotation = _rotation(self.policy, found, presented, successor, now=now, context=context)
        return (found, successor) if await db.rotate_if_unused(rotation) else None


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
    """Rotate `presented` (or replay its successor) holding its row; `InvalidGrantError` for
    anything refused. The whole algorithm: `RefreshTokens.rotate` comes here for a used token.

    A used token is looked at first: unless it is a benign repeat (the grace window, the same
    client, a live session), it revokes the family whatever else is wrong with the request, so
    a stolen old token cannot probe whether its session lives. Every refusal says the same.
    """
    if not looks_like_refresh_token(presented):
        raise InvalidGrantError(REFUSED)
    locked = await uow.refresh_tokens.lock(hash_refresh_token(presented))
    if locked is None or locked.session.revoked_at is not None:
        raise InvalidGrantError(REFUSED)
    record, session = locked.record, locked.session
    live = _is_live(locked, client_id, policy, now)
    if record.used_at is not None:
        repeat = live and await _successor_for_repeat(uow, policy, record, presented, now)
        if not repeat:
            await _revoke_for_reuse(uow, policy, session, record, now=now, context=context)
            raise InvalidGrantError(REFUSED)
        successor, repeated = repeat, True
        await uow.audit.record(_audit("refresh.repeat", locked, now=now, context=context))
    elif not live:
        # a live token of another client or of an ended session: refused, the family untouched
        raise InvalidGrantError(REFUSED)
    else:
        successor, repeated = generate_refresh_token(), False
        rotation = _rotation(policy, locked, presented, successor, now=now, context=context)
        if not await uow.refresh_tokens.record_rotation(rotation):
            raise RuntimeError("a token held unused under its row lock was used meanwhile")

    access = issuer.issue(grant_for_user(locked.user, session))
    await uow.commit()
    return RefreshResult(session, successor, access, repeated)


def _is_live(token: PresentedToken, client_id: str, policy: SessionPolicy, now: datetime) -> bool:
    """Whether the token's session is `client_id`'s and has not ended (revocation aside)."""
    return token.session.client_id == client_id and token.session.expiry(policy, now) is None


def _audit(
    event: str, token: PresentedToken, *, now: datetime, context: RequestContext
) -> AuditEntry:
    detail = {"generation": token.record.generation + 1}
    return AuditEntry.of_session(event, token.session, at=now, context=context, detail=detail)


def _rotation(
    policy: SessionPolicy,
    token: PresentedToken,
    presented: str,
    successor: str,
    *,
    now: datetime,
    context: RequestContext,
) -> Rotation:
    """What rotating `presented` to `successor` writes (one statement on PostgreSQL)."""
    record = token.record
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
        audit=_audit("refresh", token, now=now, context=context),
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
