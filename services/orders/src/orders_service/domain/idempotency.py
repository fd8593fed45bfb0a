"""Idempotency keys of `POST /v1/orders` (DESIGN §10): one order per (user, key), for ever.

The first request with a key stores its order and the key in one transaction (a unique
(user, key) constraint decides races), then records the answer it gave. A replay with the same
body gets that answer again; the same key with another body is refused; a replay that arrives
while the first request is still running is told to retry shortly. If the first request died
before recording its answer, a replay after `IN_FLIGHT_TIMEOUT` answers with the order as it
stands, so a key can never be stuck.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

IN_FLIGHT_TIMEOUT = timedelta(seconds=30)
"""Longer than any first request can run (billing deadline, exchange, two commits)."""


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """The client's key and a fingerprint of what it asked for."""

    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    """The first answer given for a key, replayed byte for byte (status, headers, body)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A stored key: what it was first used for, its order, and its answer once given."""

    owner_id: str
    key: str
    fingerprint: str
    order_id: str
    created_at: datetime
    answer: RecordedAnswer | None


def fingerprint_of(request_body: Any) -> str:
    """SHA-256 over the canonical JSON of the parsed body: key order and spacing do not count."""
    canonical = json.dumps(request_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
