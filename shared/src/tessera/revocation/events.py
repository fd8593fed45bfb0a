"""The revocation events of auth's feed (DESIGN §4), parsed strictly.

An event is `{"id", "kind", "value", "min_ver"?, "expires_at"}`: `kind` is `session` (value =
sid), `user` (value = sub, with `min_ver`: tokens with a lower `ver` are dead), `token` (value =
jti) or `key` (value = kid). `expires_at` (unix seconds, or RFC 3339) is when the last token the
event can match expires; after it the event is useless and is pruned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

EventKind = Literal["session", "user", "token", "key"]
EVENT_KINDS: frozenset[str] = frozenset({"session", "user", "token", "key"})


class MalformedEventError(ValueError):
    """Raised when a feed item is not a well-formed revocation event."""


@dataclass(frozen=True, slots=True)
class RevocationEvent:
    """One revocation: what is revoked, and until when it matters."""

    id: str
    kind: EventKind
    value: str
    expires_at: int
    min_ver: int | None = None

    @classmethod
    def from_json(cls, item: Any) -> RevocationEvent:
        """Parse one feed item; MalformedEventError when it is not a valid event."""
        if not isinstance(item, dict):
            raise MalformedEventError("event is not an object")
        event_id, kind, value = item.get("id"), item.get("kind"), item.get("value")
        if isinstance(event_id, bool) or not isinstance(event_id, str | int):
            raise MalformedEventError("event id is missing")
        if kind not in EVENT_KINDS:
            raise MalformedEventError(f"unknown event kind {kind!r}")
        if not isinstance(value, str) or not value:
            raise MalformedEventError("event value is missing")
        min_ver = item.get("min_ver")
        if kind == "user":
            if isinstance(min_ver, bool) or not isinstance(min_ver, int):
                raise MalformedEventError("user event without an integer min_ver")
        else:
            min_ver = None
        return cls(
            id=str(event_id),
            kind=cast(EventKind, kind),
            value=value,
            expires_at=parse_timestamp(item.get("expires_at")),
            min_ver=min_ver,
        )


def parse_timestamp(raw: Any) -> int:
    """Unix seconds (rounded up) from an int/float or an RFC 3339 string with an offset."""
    if isinstance(raw, bool):
        raise MalformedEventError("expires_at is not a timestamp")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw):
        return math.ceil(raw)
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise MalformedEventError("expires_at is not RFC 3339") from None
        if moment.tzinfo is None:
            raise MalformedEventError("expires_at has no UTC offset")
        return math.ceil(moment.timestamp())
    raise MalformedEventError("expires_at is missing")
