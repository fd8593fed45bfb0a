"""Keep this replica's `KeyRing` equal to the stored keys, so every replica signs alike.

Another replica, the schedule or an operator's `keys rotate` changes the `signing_keys` table;
each replica then reloads its ring: at once on the `tessera_signing_keys` NOTIFY (PostgreSQL),
and in any case within `SIGNING_KEY_RELOAD_SECONDS`, by polling a cheap (kid, state) fingerprint
(the only signal SQLite has across processes). The reload interval is part of the key schedule:
a retired key stays published for it, because a replica may sign with the old key that long.

The refresher is also the `tessera.KeySource` auth verifies its own tokens with: an unknown
`kid` (a key another replica activated a moment ago) reloads from the database, at most once
per `miss_cooldown_seconds`, so garbage kids cannot turn into a query per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from prometheus_client import Counter, Gauge
from tessera.background import BackgroundTask, wait_for_event

from auth_service.adapters.signing_key_store import KeyFingerprint, SigningKeyStore
from auth_service.domain.keys import KeyRing, KeyState

logger = logging.getLogger(__name__)

KeysChanged = Callable[[frozenset[str]], None]
"""Called after a reload changed the ring, with the kids that left it (removed or revoked)."""

KEYS_BY_STATE = Gauge(
    "auth_signing_keys", "Signing keys this replica publishes, by state", ["state"]
)
RELOADS = Counter("auth_signing_key_reloads_total", "Key-ring reloads that found a changed key set")
RELOAD_FAILURES = Counter(
    "auth_signing_key_reload_failures_total", "Key-ring reloads that could not read the database"
)


class KeyRingRefresher:
    """Reloads `ring` from `store`; see the module docstring."""

    def __init__(
        self,
        store: SigningKeyStore,
        ring: KeyRing,
        *,
        reload_seconds: float,
        miss_cooldown_seconds: float = 1.0,
        on_change: Sequence[KeysChanged] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ring = ring
        self._store = store
        self._reload_seconds = reload_seconds
        self._miss_cooldown = miss_cooldown_seconds
        self._on_change = list(on_change)
        self._clock = clock
        self._fingerprint: KeyFingerprint = _fingerprint_of(ring)
        self._last_miss_reload: float | None = None
        self._reloading = asyncio.Lock()
        self._wake = asyncio.Event()
        self._loop = BackgroundTask("signing-key-reload", self._run)
        _export(ring)

    def on_change(self, callback: KeysChanged) -> None:
        """Also call `callback(removed_kids)` after every reload that changed the ring."""
        self._on_change.append(callback)

    def request_reload(self) -> None:
        """Reload soon (the NOTIFY handler and local key changes call this)."""
        self._wake.set()

    async def reload(self) -> bool:
        """Reload if the stored key set changed; True when the ring changed."""
        async with self._reloading:
            fingerprint = await self._store.fingerprint()
            if fingerprint == self._fingerprint:
                return False
            stored = await self._store.read_keys(self.ring.signing_key)
            before = {key.kid for key in self.ring.published}
            self.ring.replace(stored.signing_key, stored.published)
            removed = frozenset(before - {key.kid for key in stored.published})
            self._fingerprint = stored.fingerprint
        RELOADS.inc()
        _export(self.ring)
        logger.info(
            "Signing keys changed",
            extra={"active_kid": self.ring.signing_key.kid, "keys": dict(stored.fingerprint)},
        )
        for callback in self._on_change:
            callback(removed)
        return True

    async def get_key(self, kid: str) -> RSAPublicKey | None:
        """The public key for `kid`; an unknown kid reloads at most once per cooldown."""
        key = await self.ring.get_key(kid)
        if key is not None:
            return key
        now = self._clock()
        if (
            self._last_miss_reload is not None
            and now - self._last_miss_reload < self._miss_cooldown
        ):
            return None
        self._last_miss_reload = now
        try:
            await self.reload()
        except Exception:  # the database is away: the kid stays unknown, the request gets 401
            RELOAD_FAILURES.inc()
            logger.warning("Reloading signing keys for an unknown kid failed", exc_info=True)
            return None
        return await self.ring.get_key(kid)

    def start(self) -> None:
        self._loop.start()

    async def aclose(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            await wait_for_event(self._wake, self._reload_seconds)
            self._wake.clear()
            try:
                await self.reload()
            except Exception:  # keep signing with the ring we have; try again next period
                RELOAD_FAILURES.inc()
                logger.warning("Reloading signing keys failed; keeping the current ones")


def _fingerprint_of(ring: KeyRing) -> KeyFingerprint:
    return tuple(sorted((key.kid, key.state.value) for key in ring.published))


def _export(ring: KeyRing) -> None:
    states = [key.state for key in ring.published]
    for state in KeyState:
        KEYS_BY_STATE.labels(state.value).set(states.count(state))
