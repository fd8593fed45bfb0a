"""A resource service's own identity at auth, and the revocation push it enables (DESIGN §4, §6).

Every resource service is a registered confidential client of auth. With its secret it reads
the revocation feed (a service token with `revocations:read`) and, where it calls other
services for a user, exchanges the user's token (RFC 8693). Both services declare the same
settings, so they live here once:

    class Settings(BaseSettings, ServiceIdentitySettings):
        SERVICE_CLIENT_ID: str = "orders"

    identity = ServiceIdentity.from_settings(settings, leeway_seconds=settings.TOKEN_LEEWAY_SECONDS)
    verifier = TokenVerifier(..., revocation_check=identity.index.check)
    await identity.start(verifier)        # lists the feed, then watches it in the background

Without a configured secret (unit tests, a bare `serve` without the launcher) there is no
watcher and no exchanger: the index stays empty and calls needing an exchange fail clearly.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tessera.revocation import HttpRevocationFeed, RevocationIndex, RevocationWatcher
from tessera.service_tokens import ServiceTokenProvider
from tessera.token_exchange import TokenExchanger
from tessera.tokens.verifier import TokenVerifier

REVOCATIONS_SCOPE = "revocations:read"


class ServiceIdentitySettings(BaseModel):
    """Settings mixin: who this service is at auth, and where auth is (internal address)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    AUTH_URL: str = "http://127.0.0.1:8001"
    """auth's internal base URL: the token endpoint and the revocation feed live under it."""
    SERVICE_CLIENT_ID: str = ""
    """This service's client id at auth (its name: `orders`, `billing`)."""
    SERVICE_CLIENT_SECRET: SecretStr | None = None
    """This service's client secret itself; prefer SERVICE_CLIENT_SECRET_FILE."""
    SERVICE_CLIENT_SECRET_FILE: Path | None = None
    """A mounted secret file; read once at start-up (it wins over SERVICE_CLIENT_SECRET)."""
    REVOCATION_FAIL_CLOSED_AFTER_SECONDS: float | None = Field(default=None, gt=0)
    """Refuse every token once the revocation index is this stale (default: keep verifying)."""

    @property
    def token_url(self) -> str:
        return f"{self.AUTH_URL.rstrip('/')}/v1/auth/token"

    def service_client_secret(self) -> str | None:
        """The client secret from the file or the environment; None when not configured."""
        if self.SERVICE_CLIENT_SECRET_FILE is not None:
            return self.SERVICE_CLIENT_SECRET_FILE.read_text(encoding="utf-8").strip() or None
        if self.SERVICE_CLIENT_SECRET is not None:
            return self.SERVICE_CLIENT_SECRET.get_secret_value() or None
        return None


class ServiceIdentity:
    """The revocation index (always) and, with credentials, the watcher and token clients."""

    def __init__(
        self,
        *,
        index: RevocationIndex,
        watcher_tokens: ServiceTokenProvider | None,
        exchanger: TokenExchanger | None,
        auth_url: str,
        fail_closed_after_seconds: float | None,
    ) -> None:
        self.index = index
        self.exchanger = exchanger
        self._watcher_tokens = watcher_tokens
        self._auth_url = auth_url
        self._fail_closed_after = fail_closed_after_seconds
        self.watcher: RevocationWatcher | None = None

    @classmethod
    def from_settings(
        cls,
        settings: ServiceIdentitySettings,
        *,
        leeway_seconds: float,
        exchange_audience: str | None = None,
    ) -> ServiceIdentity:
        """Build from settings; `leeway_seconds` must be the verifier's (an index entry must
        outlive every token the verifier still accepts); `exchange_audience` (e.g. "billing")
        adds a TokenExchanger."""
        secret = settings.service_client_secret()
        index = RevocationIndex(
            leeway_seconds=leeway_seconds,
            fail_closed_after_seconds=settings.REVOCATION_FAIL_CLOSED_AFTER_SECONDS,
        )
        if secret is None or not settings.SERVICE_CLIENT_ID:
            return cls(
                index=index,
                watcher_tokens=None,
                exchanger=None,
                auth_url=settings.AUTH_URL,
                fail_closed_after_seconds=settings.REVOCATION_FAIL_CLOSED_AFTER_SECONDS,
            )
        watcher_tokens = ServiceTokenProvider(
            token_url=settings.token_url,
            client_id=settings.SERVICE_CLIENT_ID,
            client_secret=secret,
            audience="auth",
            scope=REVOCATIONS_SCOPE,
        )
        exchanger = None
        if exchange_audience is not None:
            exchanger = TokenExchanger(
                token_url=settings.token_url,
                client_id=settings.SERVICE_CLIENT_ID,
                client_secret=secret,
                audience=exchange_audience,
            )
        return cls(
            index=index,
            watcher_tokens=watcher_tokens,
            exchanger=exchanger,
            auth_url=settings.AUTH_URL,
            fail_closed_after_seconds=settings.REVOCATION_FAIL_CLOSED_AFTER_SECONDS,
        )

    @property
    def configured(self) -> bool:
        """Whether this service has credentials (and so watches the feed)."""
        return self._watcher_tokens is not None

    async def start(self, verifier: TokenVerifier) -> None:
        """Start watching the feed; `verifier` forgets cached tokens of revoked keys."""
        if self._watcher_tokens is None:
            return
        self.watcher = RevocationWatcher(
            feed=HttpRevocationFeed(base_url=self._auth_url, token_provider=self._watcher_tokens),
            index=self.index,
            verifier=verifier,
            fail_closed_after_seconds=self._fail_closed_after,
        )
        await self.watcher.start()

    def revocation_status(self) -> dict[str, object]:
        """For /readyz: the policy, whether the feed was listed, and how stale the index may be
        (reported in the default fail-open mode too, where staleness never fails readiness)."""
        policy = (
            "fail_open"
            if self._fail_closed_after is None
            else f"fail_closed_after_{self._fail_closed_after:g}s"
        )
        if self.watcher is None:
            return {"policy": policy, "watching": False}
        staleness = self.watcher.staleness_seconds
        return {
            "policy": policy,
            "watching": True,
            "listed": self.watcher.ready,
            "staleness_seconds": None if math.isinf(staleness) else round(staleness, 3),
            "cursor": self.watcher.cursor,
        }

    async def revocations_ready(self) -> bool:
        """Readiness: the feed was listed once; when failing closed, also not too stale."""
        if self.watcher is None:
            return True
        if self._fail_closed_after is None:
            return self.watcher.ready
        return self.watcher.healthy

    async def aclose(self) -> None:
        if self.watcher is not None:
            await self.watcher.aclose()
        if self._watcher_tokens is not None:
            await self._watcher_tokens.aclose()
        if self.exchanger is not None:
            await self.exchanger.aclose()
