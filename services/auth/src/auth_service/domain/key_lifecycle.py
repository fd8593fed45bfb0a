"""When signing keys move between states (DESIGN §5): the schedule and the rotation decisions.

A key's life::

    next ──(published ≥ lead)──> active ──(rotation)──> retired ──(retention)──> removed
                                    └──(emergency: --revoke-current)──> removed at once

- `next` is published in the JWKS but signs nothing. It may become `active` only once every
  verifier must have seen it: `lead` = the JWKS max-age verifiers cache it for + the period in
  which an auth replica may still serve a JWKS without it (its key reload interval) + a margin.
- `active` signs. Exactly one key is active (the database enforces it).
- `retired` no longer signs but stays published until every token it signed has expired,
  counted from when the last replica could still sign with it: retirement + reload interval +
  the longest token lifetime auth can be configured with + the longest leeway a verifier can be
  configured with + a minute for clocks that disagree.

Every function here is pure (no clock, no I/O): the key store reads the keys under a lock, asks
`plan_rotation` / `plan_maintenance` what to do, and writes the answer in the same transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth_service.domain.keys import KeyState

PUBLICATION_MARGIN = timedelta(seconds=2)
"""Slack for fetch latency and timers on top of max-age + reload before a next key may sign."""
RETENTION_MARGIN = timedelta(seconds=60)
"""Slack on a retired key's retention for clocks that disagree between hosts."""


class RotationTrigger(enum.StrEnum):
    """Why a rotation happened; a label on metrics and a field of the audit row."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    EMERGENCY = "emergency"


@dataclass(frozen=True)
class KeyRecord:
    """A stored key's identity and timestamps; never its private material."""

    kid: str
    state: KeyState
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None


@dataclass(frozen=True)
class KeySchedule:
    """The periods of the lifecycle, from settings.

    `rotation_interval` None means no scheduled rotation (rotate by hand only).
    """

    lead: timedelta
    """How long a `next` key is published before it may sign."""
    last_token_expiry: timedelta
    """From a key leaving `active` to the expiry of the last token any replica signed with it."""
    leeway: timedelta
    """How long past `exp` verifiers still accept a token."""
    rotation_interval: timedelta | None

    @classmethod
    def from_periods(
        cls,
        *,
        jwks_max_age_seconds: float,
        reload_seconds: float,
        max_token_lifetime_seconds: float,
        leeway_seconds: float,
        rotation_interval_seconds: float,
    ) -> KeySchedule:
        reload = timedelta(seconds=reload_seconds)
        return cls(
            lead=timedelta(seconds=jwks_max_age_seconds) + reload + PUBLICATION_MARGIN,
            last_token_expiry=reload + timedelta(seconds=max_token_lifetime_seconds),
            leeway=timedelta(seconds=leeway_seconds),
            rotation_interval=(
                timedelta(seconds=rotation_interval_seconds) if rotation_interval_seconds else None
            ),
        )

    @property
    def retention(self) -> timedelta:
        """How long a retired key stays published."""
        return self.last_token_expiry + self.leeway + RETENTION_MARGIN

    def ready_at(self, next_key: KeyRecord) -> datetime:
        """When a `next` key may start signing."""
        return next_key.created_at + self.lead

    def removable_at(self, retired: KeyRecord) -> datetime:
        """When a `retired` key can no longer verify any token anyone accepts."""
        assert retired.retired_at is not None
        return retired.retired_at + self.retention

    def rotation_due_at(self, active: KeyRecord) -> datetime | None:
        if self.rotation_interval is None:
            return None
        return (active.activated_at or active.created_at) + self.rotation_interval


class RotationNotReadyError(Exception):
    """Raised when the next key is too young to sign: a verifier may not have it yet."""

    def __init__(self, next_kid: str, ready_at: datetime) -> None:
        super().__init__(f"the next key {next_kid} may sign from {ready_at.isoformat()}")
        self.next_kid = next_kid
        self.ready_at = ready_at


@dataclass(frozen=True)
class KeyChanges:
    """What one transaction does to the stored keys (empty: nothing to do)."""

    create_active: bool = False
    """No active key and no next one to promote: a fresh key signs at once."""
    create_next: bool = False
    activate: str | None = None
    retire: str | None = None
    revoke: str | None = None
    """Removed at once, with a `key` revocation event (emergency)."""
    remove: tuple[str, ...] = ()
    """Retired keys past their retention, removed quietly."""
    already_rotated_to: str | None = None
    """Someone else rotated away from the expected key first; this run changes nothing."""

    @property
    def rotates(self) -> bool:
        return self.activate is not None or self.create_active

    @property
    def empty(self) -> bool:
        return not (
            self.create_active or self.create_next or self.activate or self.revoke or self.remove
        )


def _one(keys: Sequence[KeyRecord], state: KeyState) -> KeyRecord | None:
    matching = sorted((k for k in keys if k.state == state), key=lambda k: k.created_at)
    return matching[-1] if matching else None


def plan_first_keys(keys: Sequence[KeyRecord]) -> KeyChanges:
    """Start-up: an active key to sign with and a next key already on its way."""
    active, next_key = _one(keys, KeyState.ACTIVE), _one(keys, KeyState.NEXT)
    if active is None and next_key is not None:
        # Only reachable by hand-editing the table; promoting a possibly unseen key would
        # break verifiers, so sign with a fresh key and leave the next key to age.
        return KeyChanges(create_active=True)
    return KeyChanges(create_active=active is None, create_next=next_key is None)


def plan_rotation(
    keys: Sequence[KeyRecord],
    schedule: KeySchedule,
    *,
    now: datetime,
    expected_active: str | None,
) -> KeyChanges:
    """Rotate away from the active key `expected_active` (None: whichever is active).

    Normal rotation promotes the next key, and only once `schedule.ready_at` has passed
    (`RotationNotReadyError` otherwise). A compromised key is `plan_revocation`'s.
    """
    active, next_key = _one(keys, KeyState.ACTIVE), _one(keys, KeyState.NEXT)
    if expected_active is not None and (active is None or active.kid != expected_active):
        return KeyChanges(already_rotated_to=active.kid if active else None)
    if active is None:
        return plan_first_keys(keys)
    if next_key is None:
        return KeyChanges(create_next=True)  # the caller waits for it to age, then rotates
    if now < schedule.ready_at(next_key):
        raise RotationNotReadyError(next_key.kid, schedule.ready_at(next_key))
    return KeyChanges(retire=active.kid, activate=next_key.kid, create_next=True)


def plan_revocation(keys: Sequence[KeyRecord], kid: str) -> KeyChanges:
    """Revoke the key `kid` (compromised) in whatever state it is; nothing if it is gone.

    An active key is removed and the next key promoted however young: tokens of the new key may
    be refused by a verifier until its immediate refetch, but tokens of the compromised key must
    not be accepted anywhere. A next or retired key is removed (a new next key replaces a next
    one). Naming the key, not "the current one", keeps a retry, a second operator or a
    rotation that happened meanwhile from revoking the healthy replacement.
    """
    target = next((key for key in keys if key.kid == kid), None)
    if target is None:
        return KeyChanges()
    if target.state == KeyState.NEXT:
        return KeyChanges(revoke=kid, create_next=True)
    if target.state == KeyState.RETIRED:
        return KeyChanges(revoke=kid)
    next_key = _one(keys, KeyState.NEXT)
    if next_key is None:
        return KeyChanges(revoke=kid, create_active=True, create_next=True)
    return KeyChanges(revoke=kid, activate=next_key.kid, create_next=True)


def plan_maintenance(
    keys: Sequence[KeyRecord], schedule: KeySchedule, *, now: datetime
) -> KeyChanges:
    """The periodic pass: keep a next key, rotate when due and ready, drop expired retirees."""
    remove = tuple(
        sorted(
            k.kid
            for k in keys
            if k.state == KeyState.RETIRED and k.retired_at and now >= schedule.removable_at(k)
        )
    )
    active, next_key = _one(keys, KeyState.ACTIVE), _one(keys, KeyState.NEXT)
    if active is None or next_key is None:
        first = plan_first_keys(keys)
        return KeyChanges(
            create_active=first.create_active, create_next=first.create_next, remove=remove
        )
    due_at = schedule.rotation_due_at(active)
    if due_at is not None and now >= due_at and now >= schedule.ready_at(next_key):
        return KeyChanges(retire=active.kid, activate=next_key.kid, create_next=True, remove=remove)
    return KeyChanges(remove=remove)
