"""Settling `payment_pending` orders: the authorization a charge is made with, and when to retry.

billing accepts `Charge` only from a caller acting for the user (an exchanged token, DESIGN §6),
so a charge retried in the background carries the billing token the user's own request
obtained, for as long as it is valid: no new trust path. When it runs out first (or billing
refuses it: the session or user was revoked), the order fails with `authorization_expired`
and the user can pay again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FIRST_RETRY_AFTER = timedelta(seconds=10)
"""When the reconciler first looks at a new order: after its own request has had every chance
to charge it (billing deadline, token exchange), so the two rarely both call billing (and
if they do, the order id as idempotency key makes it one charge)."""
MAX_RETRY_DELAY = timedelta(seconds=30)
AUTHORIZATION_MARGIN = timedelta(seconds=5)
"""A token this close to expiry is not used: billing would see it expired mid-call."""


@dataclass(frozen=True, slots=True)
class ChargeAuthorization:
    """A billing token for one user's charges, and when it expires."""

    token: str
    expires_at: datetime

    def usable_at(self, now: datetime) -> bool:
        return now + AUTHORIZATION_MARGIN < self.expires_at

    def __repr__(self) -> str:  # never the token itself
        return f"ChargeAuthorization(expires_at={self.expires_at.isoformat()})"


@dataclass(frozen=True, slots=True)
class PendingCharge:
    """A `payment_pending` order's charge, due for another attempt at `next_attempt_at`."""

    order_id: str
    authorization: ChargeAuthorization | None
    attempts: int
    next_attempt_at: datetime


def retry_delay(attempts: int) -> timedelta:
    """Backoff after `attempts` failed tries: 1 s, 2 s, 4 s, ... up to 30 s."""
    return min(timedelta(seconds=2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY)
