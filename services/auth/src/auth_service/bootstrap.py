"""Wiring: build every long-lived part of one auth process from `Settings`, in one place.

`open_runtime` is the app's lifespan: it connects the database, loads (or creates) the signing
keys, builds the use cases over their ports, and runs the background parts until it exits:

    PostgresListener ──NOTIFY──> RevocationEventStore.wakeups  (watchers long-polling here wake)
                     └─NOTIFY──> KeyRingRefresher               (this replica reloads its keys)
    KeyRingRefresher ─changed──> feed wake-up (a key event may have come with it), and the
                                 verifiers forget tokens of keys that left the ring
    MaintenanceLoop (one replica at a time): key schedule, event pruning, sealed successors,
                                 expired `mfa_token`s and passkey challenges
    RevocationWatcher (in process) ──> the RevocationIndex auth's own verifier consults, as
                                 every resource service's does (and every local commit that
                                 revokes applies its events at once)

The CLI builds only what each command needs from the same functions (`*_from(settings)`), so
the app and `create-admin` or `keys rotate` hash, store and sign exactly alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from tessera import RevocationIndex, RevocationWatcher, TokenVerifier

from auth_service.adapters.client_repository import ServiceClientStore
from auth_service.adapters.client_settings import (
    configured_client_secrets,
    configured_permissions,
    exchange_rules,
)
from auth_service.adapters.key_encryption import KeyWrapper, load_key_encryption_key
from auth_service.adapters.key_ring_refresher import KeyRingRefresher
from auth_service.adapters.mail_outbox import MailQueue, OutboxSealer
from auth_service.adapters.mail_worker import MailWorker
from auth_service.adapters.maintenance import Chore, MaintenanceLoop
from auth_service.adapters.mfa_repository import prune_mfa_challenges
from auth_service.adapters.own_revocations import InProcessFeed, revocation_event_of
from auth_service.adapters.passkey_repository import prune_ceremonies
from auth_service.adapters.pg_listener import PostgresListener, listening
from auth_service.adapters.rate_limits import RateLimiter
from auth_service.adapters.revocation_events import RevocationEventStore
from auth_service.adapters.rotations import rotation_connections
from auth_service.adapters.session_repository import clear_expired_sealed_successors
from auth_service.adapters.signing_key_store import KEYS_CHANNEL, SigningKeyStore
from auth_service.adapters.smtp_sender import SmtpSender
from auth_service.adapters.storage import Storage, open_storage
from auth_service.adapters.subject_status import SqlSubjectStatus
from auth_service.adapters.subject_verifiers import SubjectVerifiers
from auth_service.adapters.webauthn_ceremonies import RelyingParty
from auth_service.config import MAX_ACCESS_TOKEN_TTL_SECONDS, MAX_TOKEN_LEEWAY_SECONDS, Settings
from auth_service.domain.access_tokens import AccessTokenIssuer
from auth_service.domain.key_lifecycle import KeySchedule
from auth_service.domain.keys import KeyRing
from auth_service.domain.mfa import MFA_TOKEN_LIFETIME, MfaSecrets
from auth_service.domain.passwords import Argon2Parameters, PasswordHasher
from auth_service.domain.sessions import SessionLifetime, SessionPolicy
from auth_service.use_cases.accounts import Accounts
from auth_service.use_cases.administration import Administration
from auth_service.use_cases.email_verification import EmailVerification
from auth_service.use_cases.login import Logins
from auth_service.use_cases.mailing import MailLinks, MailRequests
from auth_service.use_cases.mfa import MultiFactor
from auth_service.use_cases.passkeys import Passkeys
from auth_service.use_cases.password_reset import PasswordResets
from auth_service.use_cases.refresh import RefreshTokens
from auth_service.use_cases.revocation_feed import RevocationFeed
from auth_service.use_cases.service_clients import ServiceClients
from auth_service.use_cases.service_grants import ServiceGrants
from auth_service.use_cases.sessions import Sessions
from auth_service.use_cases.step_up import StepUps

AUDIENCE = "auth"
SEALED_SUCCESSOR_CLOCK_MARGIN = timedelta(seconds=60)
"""Kept this much past the grace window before clearing: the replica clearing may run ahead of
the one a benign retry reaches, and clearing early would turn that retry into reuse."""


def password_hasher_from(settings: Settings) -> PasswordHasher:
    parameters = Argon2Parameters(
        time_cost=settings.PASSWORD_HASH_TIME_COST,
        memory_kib=settings.PASSWORD_HASH_MEMORY_KIB,
        parallelism=settings.PASSWORD_HASH_PARALLELISM,
    )
    return PasswordHasher(parameters, workers=settings.PASSWORD_HASH_WORKERS)


def session_policy_from(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        lifetimes={
            "web": SessionLifetime(
                settings.WEB_SESSION_IDLE_SECONDS, settings.WEB_SESSION_ABSOLUTE_SECONDS
            ),
            "mobile": SessionLifetime(
                settings.MOBILE_SESSION_IDLE_SECONDS, settings.MOBILE_SESSION_ABSOLUTE_SECONDS
            ),
        },
        grace_seconds=settings.REFRESH_GRACE_SECONDS,
        longest_access_token_seconds=MAX_ACCESS_TOKEN_TTL_SECONDS,
    )


def key_schedule_from(settings: Settings) -> KeySchedule:
    """The key lifecycle's periods. A retired key is kept for the longest token lifetime and
    leeway a service can be configured with, not the current ones, so lowering either (here or
    at a verifier) never drops a key that signed a token someone still accepts."""
    return KeySchedule.from_periods(
        jwks_max_age_seconds=settings.JWKS_MAX_AGE_SECONDS,
        reload_seconds=settings.SIGNING_KEY_RELOAD_SECONDS,
        max_token_lifetime_seconds=MAX_ACCESS_TOKEN_TTL_SECONDS,
        # orders and billing set their own leeway, up to the same bound
        leeway_seconds=MAX_TOKEN_LEEWAY_SECONDS,
        rotation_interval_seconds=settings.SIGNING_KEY_ROTATION_INTERVAL_SECONDS,
    )


def signing_key_store_from(
    settings: Settings,
    storage: Storage,
    clock: Callable[[], float] = time.time,
    *,
    create_dev_key: bool = True,
) -> SigningKeyStore:
    """The key store, with the KEK from settings (the CLI's `keys` commands use this too)."""
    wrapper = KeyWrapper(load_key_encryption_key(settings, create_dev_key=create_dev_key))
    return SigningKeyStore(
        storage.session_factory,
        wrapper,
        key_schedule_from(settings),
        clock=lambda: datetime.fromtimestamp(clock(), UTC),
    )


def rate_limiter_from(settings: Settings) -> RateLimiter:
    return RateLimiter.create(
        settings.REDIS_URL,
        {
            "login-account": settings.LOGIN_RATE_LIMIT_PER_ACCOUNT,
            "login-account-failures": settings.LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT,
            "login-ip": settings.LOGIN_RATE_LIMIT_PER_IP,
            "refresh-ip": settings.REFRESH_RATE_LIMIT_PER_IP,
            "register-ip": settings.REGISTER_RATE_LIMIT_PER_IP,
            "client-auth-failure-ip": settings.CLIENT_AUTH_FAILURE_RATE_LIMIT_PER_IP,
            "mail-request-ip": settings.MAIL_REQUEST_RATE_LIMIT_PER_IP,
            "email-token-ip": settings.EMAIL_TOKEN_RATE_LIMIT_PER_IP,
            "password-reset-address": settings.PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS,
            "verification-resend": settings.VERIFICATION_RESEND_RATE_LIMIT_PER_ADDRESS,
            "registration-warning": settings.REGISTRATION_WARNING_RATE_LIMIT_PER_ADDRESS,
        },
    )


def mail_worker_from(
    settings: Settings,
    storage: Storage,
    key_encryption_key: bytes,
    links: MailLinks,
    limiter: RateLimiter,
    now: Callable[[], datetime],
) -> MailWorker:
    """The outbox, sealed under a key from the KEK, and its worker sending through SMTP_URL;
    every commit that adds to the outbox wakes it."""
    sealer = OutboxSealer(key_encryption_key)
    storage.outbox_sealer = sealer
    sender = SmtpSender(
        settings.SMTP_URL, mail_from=settings.MAIL_FROM, password=settings.smtp_password()
    )
    worker = MailWorker(
        MailQueue(storage.session_factory, sealer),
        storage.unit_of_work,
        MailRequests(links, limiter, now),
        sender,
        clock=now,
        poll_seconds=settings.MAIL_POLL_SECONDS,
    )
    storage.mail_added = worker.wake
    return worker


def relying_party_from(settings: Settings) -> RelyingParty:
    """Passkeys' relying party: from settings (defaulting from the issuer), never a request."""
    return RelyingParty(rp_id=settings.webauthn_rp_id, origin=settings.webauthn_origin)


def csrf_key_from(key_encryption_key: bytes) -> bytes:
    """The CSRF HMAC key, derived from the KEK: every replica has it, nothing new to provision."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tessera/csrf/v1")
    return hkdf.derive(key_encryption_key)


def service_clients_from(storage: Storage, clock: Callable[[], datetime]) -> ServiceClients:
    return ServiceClients(ServiceClientStore(storage.session_factory), clock)


async def provision_configured_clients(settings: Settings, clients: ServiceClients) -> list[str]:
    """Create or update the clients named in the settings; returns the ids changed."""
    return await clients.provision(
        configured_client_secrets(settings), configured_permissions(settings)
    )


@dataclass
class AuthRuntime:
    """Everything the request handlers reach through `app.state.runtime`, built at start-up."""

    settings: Settings
    storage: Storage
    password_hasher: PasswordHasher
    key_store: SigningKeyStore
    keys: KeyRing
    token_issuer: AccessTokenIssuer
    session_policy: SessionPolicy
    rate_limiter: RateLimiter
    token_verifier: TokenVerifier
    """auth's verifier of its own tokens, in process: the refreshed key ring is its KeySource,
    and it consults `revocation_index` like every resource service's verifier does."""
    revocation_index: RevocationIndex
    key_refresher: KeyRingRefresher
    maintenance: MaintenanceLoop
    accounts: Accounts
    logins: Logins
    refresh_tokens: RefreshTokens
    sessions: Sessions
    step_ups: StepUps
    mfa: MultiFactor
    passkeys: Passkeys
    administration: Administration
    service_grants: ServiceGrants
    revocation_feed: RevocationFeed
    email_verification: EmailVerification
    password_resets: PasswordResets
    mail_worker: MailWorker
    csrf_key: bytes = field(repr=False)
    clock: Callable[[], float] = time.time

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)


def _maintenance_chores(
    settings: Settings,
    storage: Storage,
    key_store: SigningKeyStore,
    refresher: KeyRingRefresher,
    feed: RevocationFeed,
    now: Callable[[], datetime],
) -> list[Chore]:
    async def keys() -> str | None:
        outcome = await key_store.maintain()
        if outcome.changes.empty:
            return None
        refresher.request_reload()
        return f"signing keys: active={outcome.active} next={outcome.next}"

    async def sealed_successors() -> int:
        window = timedelta(seconds=settings.REFRESH_GRACE_SECONDS)
        return await clear_expired_sealed_successors(
            storage.session_factory, used_before=now() - window - SEALED_SUCCESSOR_CLOCK_MARGIN
        )

    async def mfa_challenges() -> int:
        # kept a while past their 5 minutes: the audit log, not this table, is the record
        return await prune_mfa_challenges(
            storage.session_factory, expired_before=now() - MFA_TOKEN_LIFETIME
        )

    async def passkey_ceremonies() -> int:
        return await prune_ceremonies(storage.session_factory, expired_before=now())

    return [
        Chore("signing_keys", keys),
        Chore("revocation_events", feed.prune),
        Chore("sealed_successors", sealed_successors),
        Chore("mfa_challenges", mfa_challenges),
        Chore("passkey_ceremonies", passkey_ceremonies),
    ]


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    password_hasher: PasswordHasher | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[AuthRuntime]:
    """The whole auth process, running until the block exits (see the module docstring)."""
    hasher = password_hasher or password_hasher_from(settings)

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    try:
        await hasher.warm_up()
        pool_size = settings.DATABASE_POOL_SIZE
        async with open_storage(settings.DATABASE_URL, pool_size=pool_size) as storage:
            key_encryption_key = load_key_encryption_key(settings)
            key_store = signing_key_store_from(settings, storage, clock)
            keys = await key_store.load_key_ring()
            issuer = AccessTokenIssuer(
                issuer=settings.ISSUER,
                keys=keys,
                ttl_seconds=settings.ACCESS_TOKEN_TTL_SECONDS,
                clock=clock,
            )
            policy = session_policy_from(settings)
            limiter = rate_limiter_from(settings)
            postgres = storage.engine.dialect.name == "postgresql"
            listener = PostgresListener(settings.DATABASE_URL) if postgres else None
            events = RevocationEventStore(storage, listener=listener)
            feed = RevocationFeed(
                events.source,
                events.wakeups,
                events.prune,
                leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
                clock=clock,
            )
            refresher = KeyRingRefresher(
                key_store, keys, reload_seconds=settings.SIGNING_KEY_RELOAD_SECONDS
            )
            index = RevocationIndex(leeway_seconds=settings.TOKEN_LEEWAY_SECONDS)
            verifier = TokenVerifier(
                issuer=settings.ISSUER,
                audience=AUDIENCE,
                keys=refresher,
                leeway_seconds=settings.TOKEN_LEEWAY_SECONDS,
                clock=clock,
                revocation_check=index.check,
            )
            watcher = RevocationWatcher(feed=InProcessFeed(feed), index=index, verifier=verifier)
            storage.revoked = lambda revocation: index.apply(revocation_event_of(revocation))
            subject_verifiers = SubjectVerifiers(settings, refresher, clock)

            def keys_changed(removed: frozenset[str]) -> None:
                for kid in removed:
                    verifier.forget_key(kid)
                subject_verifiers.forget_keys(removed)
                events.wakeups.notify()  # on SQLite, a key event written by the CLI is served now

            refresher.on_change(keys_changed)
            if listener is not None:
                listener.subscribe(KEYS_CHANNEL, refresher.request_reload)
            maintenance = MaintenanceLoop(
                storage.engine,
                _maintenance_chores(settings, storage, key_store, refresher, feed, now),
                interval_seconds=settings.MAINTENANCE_INTERVAL_SECONDS,
            )
            clients = service_clients_from(storage, now)
            await provision_configured_clients(settings, clients)
            links = MailLinks(settings.app_url)
            mail_worker = mail_worker_from(
                settings, storage, key_encryption_key, links, limiter, now
            )
            uow = storage.unit_of_work
            mfa_secrets = MfaSecrets(key_encryption_key)
            relying_party = relying_party_from(settings)
            runtime = AuthRuntime(
                settings=settings,
                storage=storage,
                password_hasher=hasher,
                key_store=key_store,
                keys=keys,
                token_issuer=issuer,
                session_policy=policy,
                rate_limiter=limiter,
                token_verifier=verifier,
                revocation_index=index,
                key_refresher=refresher,
                maintenance=maintenance,
                accounts=Accounts(uow, hasher, limiter, now, links),
                logins=Logins(
                    uow,
                    hasher,
                    issuer,
                    limiter,
                    now,
                    mfa_secrets,
                    relying_party,
                    known_ip_days=settings.KNOWN_IP_DAYS,
                    require_verified_email=settings.EMAIL_VERIFICATION == "required",
                ),
                refresh_tokens=RefreshTokens(
                    uow, rotation_connections(storage.engine), issuer, policy, limiter, now
                ),
                sessions=Sessions(uow, policy, hasher, limiter, now, links),
                step_ups=StepUps(
                    uow, hasher, issuer, policy, limiter, now, mfa_secrets, relying_party
                ),
                mfa=MultiFactor(uow, mfa_secrets, issuer, policy, links, now, limiter),
                passkeys=Passkeys(uow, relying_party, issuer, policy, links, now, limiter),
                administration=Administration(uow, policy, now),
                service_grants=ServiceGrants(
                    clients.repository,
                    exchange_rules(settings),
                    subject_verifiers,
                    SqlSubjectStatus(storage.session_factory, policy, now),
                    issuer,
                    limiter,
                    clock,
                ),
                revocation_feed=feed,
                email_verification=EmailVerification(uow, limiter, now),
                password_resets=PasswordResets(uow, hasher, policy, limiter, now, links),
                mail_worker=mail_worker,
                csrf_key=csrf_key_from(key_encryption_key),
                clock=clock,
            )
            events.start()
            refresher.start()
            try:
                async with listening(listener):
                    await watcher.start()
                    maintenance.start()
                    mail_worker.start()
                    try:
                        yield runtime
                    finally:
                        await mail_worker.aclose()
                        await maintenance.aclose()
                        await watcher.aclose()
            finally:
                await refresher.aclose()
                events.stop()
    finally:
        hasher.close()
