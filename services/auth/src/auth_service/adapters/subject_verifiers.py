"""The verifiers of subject tokens at token exchange (RFC 8693), one per calling client."""

from __future__ import annotations

from collections.abc import Callable

from tessera import KeySource, TokenVerifier

from auth_service.config import Settings


class SubjectVerifiers:
    """A verifier of subject tokens per calling client (`aud` must name it), over the key ring."""

    def __init__(self, settings: Settings, keys: KeySource, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._keys = keys
        self._clock = clock
        self._verifiers: dict[str, TokenVerifier] = {}

    def __call__(self, caller: str) -> TokenVerifier:
        verifier = self._verifiers.get(caller)
        if verifier is None:
            verifier = TokenVerifier(
                issuer=self._settings.ISSUER,
                audience=caller,
                keys=self._keys,
                leeway_seconds=self._settings.TOKEN_LEEWAY_SECONDS,
                clock=self._clock,
                cache_size=1_000,
            )
            self._verifiers[caller] = verifier
        return verifier

    def forget_keys(self, kids: frozenset[str]) -> None:
        """Drop cached subject tokens signed by keys that left the ring (emergency revocation)."""
        for verifier in self._verifiers.values():
            for kid in kids:
                verifier.forget_key(kid)
