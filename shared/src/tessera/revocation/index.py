"""RevocationIndex: what has been revoked, held in memory and checked on every request.

`check` is the TokenVerifier's `revocation_check`: a few dict lookups, no I/O. Entries are plain
`str -> int` dicts (the value being when the last token the entry can match expires, one shared
int per distinct expiry): 100,000 revoked sessions with 36-character sids cost about 12 MiB,
~124 bytes each, sid string included (`python -m bench.revocation`, CPython 3.11). `prune` drops
entries once no token they match can still be accepted (their `expires_at` plus the leeway).

The index also knows how fresh it is (the watcher marks it); with `fail_closed_after_seconds`
set, an index staler than that makes `check` refuse every token. The default is fail open.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from tessera.revocation.events import RevocationEvent
from tessera.tokens.principal import Principal

SESSION_REVOKED = "The session has been revoked"
USER_TOKENS_REVOKED = "The token was issued before the user's tokens were revoked"
TOKEN_REVOKED = "The token has been revoked"  # noqa: S105 - a message, not a secret
KEY_REVOKED = "The token's signing key has been revoked"
REVOCATION_STATE_STALE = "Revocation status is unavailable; try again later"


class RevocationIndex:
    """Revoked sessions, users (minimum token version), tokens and keys, with their expiry."""

    __slots__ = (
        "_clock",
        "_expiries",
        "_leeway",
        "_live_until",
        "_synced_at",
        "fail_closed_after_seconds",
        "keys",
        "sessions",
        "tokens",
        "users",
    )

    def __init__(
        self,
        *,
        leeway_seconds: float = 30,
        fail_closed_after_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions: dict[str, int] = {}
        """sid -> expires_at"""
        self.users: dict[str, tuple[int, int]] = {}
        """sub -> (min_ver, expires_at): tokens with `ver` < min_ver are revoked"""
        self.tokens: dict[str, int] = {}
        """jti -> expires_at"""
        self.keys: dict[str, int] = {}
        """kid -> expires_at"""
        self.fail_closed_after_seconds = fail_closed_after_seconds
        self._leeway = leeway_seconds
        self._clock = clock
        self._synced_at: float | None = None
        self._live_until = 0.0
        # One int object per distinct expiry, shared by every entry with it (many share one):
        # saves a 32-byte int per entry.
        self._expiries: dict[int, int] = {}

    def check(self, principal: Principal) -> str | None:
        """Why the principal's token is revoked (safe to show the caller), or None."""
        limit = self.fail_closed_after_seconds
        if limit is not None and self.staleness_seconds() > limit:
            return REVOCATION_STATE_STALE
        if principal.sid is not None and principal.sid in self.sessions:
            return SESSION_REVOKED
        user = self.users.get(principal.sub)
        if user is not None and principal.ver < user[0]:
            return USER_TOKENS_REVOKED
        if principal.jti in self.tokens:
            return TOKEN_REVOKED
        if principal.kid is not None and principal.kid in self.keys:
            return KEY_REVOKED
        return None

    def apply(self, event: RevocationEvent) -> None:
        """Record one event; repeated or out-of-order events only ever widen an entry."""
        if event.kind == "user":
            min_ver = event.min_ver if event.min_ver is not None else 0
            previous = self.users.get(event.value)
            if previous is not None:
                min_ver = max(min_ver, previous[0])
                expires_at = max(event.expires_at, previous[1])
            else:
                expires_at = event.expires_at
            self.users[event.value] = (min_ver, expires_at)
            return
        entries = self._entries_of(event.kind)
        previous_expiry = entries.get(event.value)
        if previous_expiry is None or previous_expiry < event.expires_at:
            entries[event.value] = self._expiries.setdefault(event.expires_at, event.expires_at)

    def apply_all(self, events: Iterable[RevocationEvent]) -> int:
        """Record events in order; returns how many."""
        count = 0
        for event in events:
            self.apply(event)
            count += 1
        return count

    def prune(self, now: float | None = None) -> int:
        """Drop entries whose tokens have all expired (wall-clock `now`); returns how many."""
        cutoff = math.floor((time.time() if now is None else now) - self._leeway)
        removed = 0
        for entries in (self.sessions, self.tokens, self.keys):
            doomed = [value for value, expires_at in entries.items() if expires_at < cutoff]
            for value in doomed:
                del entries[value]
            removed += len(doomed)
        doomed_users = [sub for sub, (_, expires_at) in self.users.items() if expires_at < cutoff]
        for sub in doomed_users:
            del self.users[sub]
        self._expiries = {value: value for value in self._expiries if value >= cutoff}
        return removed + len(doomed_users)

    def sizes(self) -> dict[str, int]:
        """Entries by kind."""
        return {
            "session": len(self.sessions),
            "user": len(self.users),
            "token": len(self.tokens),
            "key": len(self.keys),
        }

    def __len__(self) -> int:
        return len(self.sessions) + len(self.users) + len(self.tokens) + len(self.keys)

    # Freshness, marked by the watcher.

    def mark_synced(self) -> None:
        """The index now reflects every event auth has committed."""
        self._synced_at = self._clock()

    def mark_watching(self, for_seconds: float) -> None:
        """A long poll is open on a working connection: auth pushes any event at once, so the
        index stays current for `for_seconds` (the poll's deadline) unless the poll fails first."""
        self._live_until = self._clock() + for_seconds

    def mark_disconnected(self) -> None:
        """The long poll failed: the index was current until now, and ages from here."""
        now = self._clock()
        if self._live_until > 0:
            self._synced_at = min(now, self._live_until)
        self._live_until = 0.0

    def staleness_seconds(self) -> float:
        """Seconds the index may have missed events for; infinite before the first sync."""
        now = self._clock()
        if now <= self._live_until:
            return 0.0
        if self._synced_at is None:
            return math.inf
        return max(0.0, now - self._synced_at)

    def _entries_of(self, kind: str) -> dict[str, int]:
        if kind == "session":
            return self.sessions
        if kind == "token":
            return self.tokens
        return self.keys
