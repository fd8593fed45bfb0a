"""Wiring for service identity (DESIGN §6): the client store, exchange rules and verifiers.

Built once in the app's lifespan next to `AuthRuntime` (and by the CLI for `clients ...`):
start-up provisions the configured clients, so a replica never serves with stale secrets.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from tessera import KeySource
from tessera.tokens.verifier import TokenVerifier

from auth_service.adapters.client_repository import ServiceClientStore
from auth_service.adapters.client_settings import (
    configured_client_secrets,
    configured_permissions,
    exchange_rules,
)
from auth_service.adapters.models import UserRow
from auth_service.adapters.session_repository import SqlSessionRepository
from auth_service.bootstrap import AuthRuntime, Storage
from auth_service.config import Settings
from auth_service.domain.service_clients import provision_clients
from auth_service.domain.token_exchange import ExchangeRules, SubjectTokenVerifier


class SqlSubjectStatus:
    """The user's current token version and the session's state, read from the auth database."""

    def __init__(self, runtime: AuthRuntime) -> None:
        self._storage: Storage = runtime.storage
        self._runtime = runtime

    async def token_version(self, user_id: str) -> int | None:
        try:
            parsed = uuid.UUID(user_id)
        except ValueError:
            return None
        async with self._storage.session_factory() as session:
            query = select(UserRow.token_version).where(UserRow.id == parsed)
            version: int | None = (await session.execute(query)).scalar_one_or_none()
            return version

    async def session_is_active(self, session_id: str) -> bool:
        """Not revoked, not idle or past its absolute lifetime (DESIGN §6 refuses the rest)."""
        async with self._storage.session_factory() as session:
            found = await SqlSessionRepository(session).get(session_id)
        return found is not None and found.is_active(
            self._runtime.session_policy, self._runtime.now()
        )


@dataclass
class ServiceIdentity:
    """What the client_credentials and token-exchange grants need."""

    settings: Settings
    clients: ServiceClientStore
    rules: ExchangeRules
    status: SqlSubjectStatus
    runtime: AuthRuntime
    keys: KeySource
    """The refreshed key ring (`KeyRingRefresher`), so a key another replica just activated
    verifies here too."""
    clock: Callable[[], float] = time.time
    _verifiers: dict[str, TokenVerifier] = field(default_factory=dict)

    def forget_keys(self, kids: frozenset[str]) -> None:
        """Drop cached subject tokens signed by keys that left the ring (emergency revocation)."""
        for verifier in self._verifiers.values():
            for kid in kids:
                verifier.forget_key(kid)

    def subject_verifier(self, caller: str) -> SubjectTokenVerifier:
        """A verifier of subject tokens whose `aud` must name `caller` (one per caller, cached)."""
        verifier = self._verifiers.get(caller)
        if verifier is None:
            verifier = TokenVerifier(
                issuer=self.settings.ISSUER,
                audience=caller,
                keys=self.keys,
                leeway_seconds=self.settings.TOKEN_LEEWAY_SECONDS,
                clock=self.clock,
                cache_size=1_000,
            )
            self._verifiers[caller] = verifier
        return verifier


async def provision_configured_clients(
    settings: Settings, store: ServiceClientStore, *, now: datetime | None = None
) -> list[str]:
    """Create or update the clients named in the settings; returns the ids changed."""
    return await provision_clients(
        store,
        configured_client_secrets(settings),
        configured_permissions(settings),
        now=now or datetime.now(UTC),
    )


async def open_service_identity(
    runtime: AuthRuntime, *, keys: KeySource, clock: Callable[[], float] = time.time
) -> ServiceIdentity:
    """Provision the configured clients and build the grants' dependencies."""
    store = ServiceClientStore(runtime.storage.session_factory)
    await provision_configured_clients(runtime.settings, store)
    return ServiceIdentity(
        settings=runtime.settings,
        clients=store,
        rules=exchange_rules(runtime.settings),
        status=SqlSubjectStatus(runtime),
        runtime=runtime,
        keys=keys,
        clock=clock,
    )
