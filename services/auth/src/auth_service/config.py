"""The auth service's one `Settings`: read from the environment once, validated at start-up.

Names follow the platform convention (no prefix). In `ENVIRONMENT=production` the insecure
conveniences of the embedded default (an http issuer, a generated key-encryption key) are refused.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tessera.settings import MAX_TOKEN_LEEWAY_SECONDS, ServiceSettings

from auth_service.adapters.smtp_sender import is_loopback_host, parse_smtp_url

__all__ = ["MAX_ACCESS_TOKEN_TTL_SECONDS", "MAX_TOKEN_LEEWAY_SECONDS", "Settings"]

MAX_ACCESS_TOKEN_TTL_SECONDS = 900
DEV_KEY_ENCRYPTION_KEY_FILE = Path("var/auth-kek")
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105


class ServiceClientRule(BaseModel):
    """What one service client may do: grants, and the audiences and scopes of its own tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grants: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


# Which audiences a client may exchange user tokens for, and how user scopes map for each (§6).
TokenExchangeRules = dict[str, dict[str, dict[str, tuple[str, ...]]]]

DEFAULT_SERVICE_CLIENT_RULES = {
    "orders": ServiceClientRule(
        grants=("client_credentials", TOKEN_EXCHANGE_GRANT),
        audiences=("auth",),
        scopes=("revocations:read",),
    ),
    "billing": ServiceClientRule(
        grants=("client_credentials",), audiences=("auth",), scopes=("revocations:read",)
    ),
}
DEFAULT_TOKEN_EXCHANGE_RULES: TokenExchangeRules = {
    "orders": {
        "billing": {
            "orders:write": ("billing:charge", "billing:refund"),
            "invoices:read": ("invoices:read",),
        }
    }
}


class Settings(BaseSettings, ServiceSettings):
    """Everything the auth service can be configured with (what every service has, where it
    listens, its database, the issuer, comes from `tessera.ServiceSettings`).

    Each setting's docstring is its description: docs/settings.md and services/auth/.env.example
    are generated from them (`make settings-docs`)."""

    # hide_input_in_errors: a refused value (an SMTP_URL with a password, a key) is never echoed;
    model_config = SettingsConfigDict(
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )

    DATABASE_URL: str = "sqlite+aiosqlite:///var/auth.db"
    HTTP_PORT: int = Field(default=8001, ge=1, le=65535)
    ACCESS_TOKEN_TTL_SECONDS: int = Field(default=300, ge=1, le=MAX_ACCESS_TOKEN_TTL_SECONDS)
    """How long an access token is valid (at most 15 minutes)."""
    REDIS_URL: str | None = None
    """Redis for the rate limits, shared by every auth replica (`redis://host:6379/0`); unset:
    limits kept in process, right for a single process only."""

    KEY_ENCRYPTION_KEY: SecretStr | None = None
    """The key-encryption key (base64 of 32 bytes) that seals the signing keys stored in the
    database; prefer KEY_ENCRYPTION_KEY_FILE. Neither set: dev generates `var/auth-kek`,
    production refuses to start."""
    KEY_ENCRYPTION_KEY_FILE: Path | None = None
    """A mounted file holding the key-encryption key (base64 of 32 bytes)."""
    JWKS_MAX_AGE_SECONDS: int = Field(default=300, ge=0, le=86_400)
    """How long verifiers and browsers may cache the JWKS and the metadata document."""
    # Signing keys (DESIGN §5): a next key signs only after JWKS max-age + reload + 2 s in the JWKS.
    SIGNING_KEY_ROTATION_INTERVAL_SECONDS: float = Field(default=30 * 86_400, ge=0)
    """How often the active signing key is rotated (0: only by hand, `keys rotate`)."""
    SIGNING_KEY_RELOAD_SECONDS: float = Field(default=1.0, ge=0.05, le=60)
    """Each replica reloads the key set at least this often (and at once on PostgreSQL NOTIFY)."""

    # argon2id parameters; raising them makes old hashes rehash on the next login.
    PASSWORD_HASH_TIME_COST: int = Field(default=3, ge=1)
    """argon2id iterations (production: at least 2)."""
    PASSWORD_HASH_MEMORY_KIB: int = Field(default=65_536, ge=8)
    """argon2id memory per hash in KiB (production: at least 19,456)."""
    PASSWORD_HASH_PARALLELISM: int = Field(default=4, ge=1)
    """argon2id lanes per hash."""
    PASSWORD_HASH_WORKERS: int = Field(default=2, ge=1)
    """Concurrent argon2id computations (each uses PASSWORD_HASH_MEMORY_KIB of memory)."""

    # Service clients (DESIGN §6), provisioned (hashed) at start-up.
    SERVICE_CLIENTS: dict[str, SecretStr] = Field(default_factory=dict)
    """The service clients and their secrets as JSON, `{"orders": "<secret>", ...}`; prefer
    SERVICE_CLIENTS_FILE (which wins for a client named in both)."""
    SERVICE_CLIENTS_FILE: Path | None = None
    """A mounted JSON file of the same shape as SERVICE_CLIENTS."""
    SERVICE_CLIENT_RULES: dict[str, ServiceClientRule] = Field(
        default_factory=lambda: dict(DEFAULT_SERVICE_CLIENT_RULES)
    )
    """What each service client may do: its grants, and the audiences and scopes of its own
    tokens (JSON)."""
    TOKEN_EXCHANGE_RULES: TokenExchangeRules = Field(
        default_factory=lambda: dict(DEFAULT_TOKEN_EXCHANGE_RULES)
    )
    """Which audiences a client may exchange user tokens for, and how the user's scopes map for
    each (JSON: client, audience, user scope, the scopes it becomes)."""
    MAINTENANCE_INTERVAL_SECONDS: float = Field(default=60, gt=0, le=3600)
    """How often the maintenance loop runs (on one replica at a time): the key schedule,
    pruning revocation events, clearing expired sealed successors."""

    # Sessions (DESIGN §3): refresh-token lifetimes per first-party client.
    WEB_SESSION_IDLE_SECONDS: int = Field(default=86_400, ge=60)
    """A web session ends after this long without a refresh."""
    WEB_SESSION_ABSOLUTE_SECONDS: int = Field(default=7 * 86_400, ge=60)
    """A web session ends this long after its sign-in, however active."""
    MOBILE_SESSION_IDLE_SECONDS: int = Field(default=30 * 86_400, ge=60)
    """A mobile session ends after this long without a refresh."""
    MOBILE_SESSION_ABSOLUTE_SECONDS: int = Field(default=90 * 86_400, ge=60)
    """A mobile session ends this long after its sign-in, however active."""
    REFRESH_GRACE_SECONDS: float = Field(default=10, ge=0, le=60)
    """A rotated refresh token presented again within this window gets the same successor back
    (a lost response, not theft); 0 turns the window off."""

    COOKIE_SECURE: bool | None = None
    """Whether the refresh cookie is `Secure` (with the `__Secure-` prefix); unset: exactly when
    ISSUER is https."""
    CORS_ALLOWED_ORIGINS: str = ""
    """Browser origins allowed to call auth with credentials, comma-separated (never `*`): the
    SPA's."""

    # Rate limits (`limits` tiers, ";"-separated). Longer tiers make the back-off grow; every
    # window expires by itself, so nobody is locked out for good.
    LOGIN_RATE_LIMIT_PER_ACCOUNT: str = "5/minute;20/hour;100/day"
    """Logins per account and IP."""
    LOGIN_RATE_LIMIT_PER_IP: str = "30/minute;300/hour"
    """Logins per IP."""
    LOGIN_FAILURE_RATE_LIMIT_PER_ACCOUNT: str = "10/minute;100/hour;300/day"
    """Failed logins of one account from every IP together: the ceiling no choice of IP escapes
    (an IP the account signed in from in the last KNOWN_IP_DAYS is exempt, ADR 0009)."""
    KNOWN_IP_DAYS: int = Field(default=90, ge=1, le=365)
    """How long an IP an account signed in from stays exempt from its failure ceiling."""
    REFRESH_RATE_LIMIT_PER_IP: str = "120/minute;2000/hour"
    """Refused refreshes per IP (unknown, expired, revoked or reused tokens); successful ones
    never count, so many users behind one address are never refused for refreshing."""
    REGISTER_RATE_LIMIT_PER_IP: str = "10/minute;50/hour"
    """Registrations per IP."""
    CLIENT_AUTH_FAILURE_RATE_LIMIT_PER_IP: str = "20/minute;200/hour"
    """Failed service-client authentications at the token endpoint per IP (only failures
    count)."""

    # Mail (DESIGN §11): real SMTP, through an outbox. The default is make run's catcher.
    SMTP_URL: str = "smtp://127.0.0.1:1025"
    """smtp://[user@]host[:port] (STARTTLS when offered), smtp+starttls://, smtps://."""
    SMTP_PASSWORD_FILE: Path | None = None
    """The SMTP password for the URL's user, from a mounted file (never in the URL)."""
    MAIL_FROM: str = "Tessera <no-reply@localhost>"
    """The sender of every mail auth sends."""
    APP_URL: str | None = None
    """Where mailed links point (the SPA); the issuer when unset."""
    WEBAUTHN_RP_ID: str | None = None
    """The passkeys' relying-party ID: the issuer's host when unset (never taken from a request)."""
    WEBAUTHN_ORIGIN: str | None = None
    """The origin passkey ceremonies must come from: the issuer's origin when unset."""
    EMAIL_VERIFICATION: Literal["required", "optional"] = "required"
    """required: an unverified address cannot sign in (403 email-not-verified)."""
    MAIL_POLL_SECONDS: float = Field(default=2.0, gt=0, le=300)
    """How often the mail worker looks at the outbox besides being woken by a commit."""
    MAIL_REQUEST_RATE_LIMIT_PER_IP: str = "10/minute;100/hour"
    """Requests that mail someone (a verification resend, a password reset) per IP."""
    EMAIL_TOKEN_RATE_LIMIT_PER_IP: str = "20/minute;200/hour"  # noqa: S105 (a rate)
    """Links used (verify, reset confirm) per IP: a confirm costs an argon2id hash."""
    PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS: str = "3/hour;10/day"  # noqa: S105 (a rate, not a password)
    """Password-reset mails per address (the same for every address, known or not)."""
    VERIFICATION_RESEND_RATE_LIMIT_PER_ADDRESS: str = "3/hour;10/day"
    """Resent verification mails per address."""
    REGISTRATION_WARNING_RATE_LIMIT_PER_ADDRESS: str = "2/hour;5/day"
    """Mails telling an account's owner that someone tried to register their address again."""

    @field_validator("ISSUER")
    @classmethod
    def _issuer_has_no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or value.endswith("/"):
            raise ValueError("ISSUER must be an absolute http(s) URL without a trailing slash")
        return value

    @field_validator("SMTP_URL")
    @classmethod
    def _smtp_url_is_understood(cls, value: str) -> str:
        parse_smtp_url(value)  # ValueError says what is wrong
        return value

    @field_validator("APP_URL")
    @classmethod
    def _app_url_is_absolute(cls, value: str | None) -> str | None:
        if value is not None and (
            not value.startswith(("http://", "https://")) or value.endswith("/")
        ):
            raise ValueError("APP_URL must be an absolute http(s) URL without a trailing slash")
        return value

    @field_validator("CORS_ALLOWED_ORIGINS")
    @classmethod
    def _cors_origins_are_explicit(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError("CORS_ALLOWED_ORIGINS lists explicit http(s) origins, never '*'")
        return value

    @field_validator("KEY_ENCRYPTION_KEY")
    @classmethod
    def _key_encryption_key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key_encryption_key(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _rotation_leaves_time_to_publish(self) -> Settings:
        lead = self.JWKS_MAX_AGE_SECONDS + self.SIGNING_KEY_RELOAD_SECONDS
        interval = self.SIGNING_KEY_ROTATION_INTERVAL_SECONDS
        if interval and interval < lead:
            raise ValueError(
                "SIGNING_KEY_ROTATION_INTERVAL_SECONDS must be 0 (off) or at least "
                "JWKS_MAX_AGE_SECONDS + SIGNING_KEY_RELOAD_SECONDS, so a next key is seen by "
                "every verifier before it signs"
            )
        return self

    @model_validator(mode="after")
    def _smtp_login_is_protected(self) -> Settings:
        target = parse_smtp_url(self.SMTP_URL)
        if target.username and not (target.use_tls or target.start_tls):
            raise ValueError(
                "SMTP_URL with a user must use TLS (smtp+starttls:// or smtps://): over smtp:// "
                "anyone on the path could strip STARTTLS and read the password and the links"
            )
        if target.username and self.SMTP_PASSWORD_FILE is None:
            raise ValueError("SMTP_URL names a user: set SMTP_PASSWORD_FILE to its password")
        return self

    @model_validator(mode="after")
    def _production_refuses_insecure_defaults(self) -> Settings:
        if self.ENVIRONMENT != "production":
            return self
        problems = []
        if not self.ISSUER.startswith("https://"):
            problems.append("ISSUER must be https")
        if self.KEY_ENCRYPTION_KEY is None and self.KEY_ENCRYPTION_KEY_FILE is None:
            problems.append("KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE must be set")
        if self.PASSWORD_HASH_MEMORY_KIB < 19_456 or self.PASSWORD_HASH_TIME_COST < 2:
            problems.append("argon2id parameters are below the OWASP minimum (19 MiB, t=2)")
        if self.COOKIE_SECURE is False:
            problems.append("COOKIE_SECURE must not be false")
        smtp = parse_smtp_url(self.SMTP_URL)
        if not (smtp.use_tls or smtp.start_tls) and not is_loopback_host(smtp.host):
            problems.append("SMTP_URL must use TLS (smtp+starttls:// or smtps://) off loopback")
        if problems:
            raise ValueError("production settings refused: " + "; ".join(problems))
        return self

    @property
    def app_url(self) -> str:
        return self.APP_URL or self.ISSUER

    @property
    def webauthn_origin(self) -> str:
        """`WEBAUTHN_ORIGIN`, else the issuer's scheme, host and port."""
        if self.WEBAUTHN_ORIGIN:
            return self.WEBAUTHN_ORIGIN
        issuer = urlsplit(self.ISSUER)
        return f"{issuer.scheme}://{issuer.netloc}"

    @property
    def webauthn_rp_id(self) -> str:
        """`WEBAUTHN_RP_ID`, else the issuer's host."""
        return self.WEBAUTHN_RP_ID or (urlsplit(self.ISSUER).hostname or "")

    def smtp_password(self) -> str | None:
        if self.SMTP_PASSWORD_FILE is None:
            return None
        return self.SMTP_PASSWORD_FILE.read_text(encoding="utf-8").strip() or None

    @property
    def cookies_secure(self) -> bool:
        if self.COOKIE_SECURE is not None:
            return self.COOKIE_SECURE
        return self.ISSUER.startswith("https://")

    @property
    def cors_allowed_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.CORS_ALLOWED_ORIGINS.split(",") if o.strip()]


def decode_key_encryption_key(encoded: str) -> bytes:
    """Decode a base64 key-encryption key, insisting on exactly 32 bytes (AES-256)."""
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("key-encryption key is not valid base64") from exc
    if len(key) != 32:
        raise ValueError("key-encryption key must be 32 bytes")
    return key
