"""Settings every Tessera service declares, as mixins for its one pydantic-settings class.

    class Settings(BaseSettings, ResourceServerSettings):
        DATABASE_URL: str = "sqlite+aiosqlite:///var/orders.db"
        HTTP_PORT: int = Field(default=8002, ge=0, le=65535)
        SERVICE_CLIENT_ID: str = "orders"
        ...the service's own settings...

`ServiceSettings` is what serving needs (where to listen, which database, which proxies to
believe, how to log: `LoggingSettings`, which the dev gateway and inbox declare too);
`ResourceServerSettings` adds what verifying tokens and watching revocations need, and refuses
the embedded default's conveniences in `ENVIRONMENT=production`.

Every setting says what it means in an attribute docstring (`use_attribute_docstrings`: the
docstring is the field's description), which `python -m tessera_dev.settings_reference` turns
into docs/settings.md and each service's `.env.example`.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tessera.logging import LogFormat
from tessera.service_identity import ServiceIdentitySettings
from tessera.storage import DEFAULT_POOL_SIZE

MAX_TOKEN_LEEWAY_SECONDS = 300
"""The largest `TOKEN_LEEWAY_SECONDS` any service accepts (auth keeps signing keys this long)."""


class LoggingSettings(BaseModel):
    """How a process logs (`tessera.configure_logging`): every service, the gateway, the inbox."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    LOG_LEVEL: str = "INFO"
    """The lowest level written: DEBUG, INFO, WARNING, ERROR."""
    LOG_FORMAT: LogFormat = "json"
    """json: one JSON object per line, for log collectors; console: one compact line per record
    for people (`make run` sets it when its output is a terminal)."""


class ServiceSettings(LoggingSettings):
    """Where a service listens, its database, how it logs and the proxies it believes."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    ENVIRONMENT: Literal["dev", "production"] = "dev"
    """production refuses the embedded default's conveniences (an http ISSUER everywhere; in
    auth a generated key-encryption key and weak argon2id, in orders and billing SQLite and
    missing service credentials); dev allows them."""
    DATABASE_URL: str
    """The service's own database: `sqlite+aiosqlite:///var/<service>.db` (the embedded default)
    or `postgresql+asyncpg://user:password@host:5432/<service>`."""
    DATABASE_POOL_SIZE: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=100)
    """PostgreSQL connections this process keeps open and never exceeds (a request waits for a
    free one). Sized for a replica, not the load: mind PostgreSQL's max_connections across
    replicas and services."""
    HTTP_HOST: str = "127.0.0.1"
    """The address HTTP listens on (`0.0.0.0` in a container)."""
    HTTP_PORT: int = Field(ge=0, le=65535)
    """The port HTTP listens on."""
    ISSUER: str = "http://localhost:8000"
    """auth's public URL as clients see it: the `iss` of every token. Never from a request."""
    TOKEN_LEEWAY_SECONDS: float = Field(default=30, ge=0, le=MAX_TOKEN_LEEWAY_SECONDS)
    """Clock skew allowed when checking a token's `exp`, `nbf` and `iat`."""
    TRUSTED_PROXIES: str = ""
    """Comma-separated peer addresses or networks (`10.42.0.0/16`, for ingress pods whose
    addresses change) whose X-Forwarded-For is believed: the gateway's, and nobody else's (the
    default: trust no one, every caller is the peer it connects from)."""
    MAX_REQUEST_BODY_BYTES: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    """Bodies larger than this are refused with 413 before they are read."""

    @property
    def trusted_proxies(self) -> list[str]:
        return [ip.strip() for ip in self.TRUSTED_PROXIES.split(",") if ip.strip()]

    @model_validator(mode="after")
    def _trusted_proxies_are_addresses(self) -> ServiceSettings:
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return self


class ResourceServerSettings(ServiceSettings, ServiceIdentitySettings):
    """A service that verifies auth's tokens (orders, billing): its JWKS and feed settings."""

    JWKS_URL: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    """Where the verifier fetches auth's keys (an internal address in compose)."""

    @model_validator(mode="after")
    def _refuse_insecure_production_defaults(self) -> ResourceServerSettings:
        if self.ENVIRONMENT != "production":
            return self
        if self.DATABASE_URL.startswith("sqlite"):
            raise ValueError("production needs a PostgreSQL DATABASE_URL, not the embedded SQLite")
        if urlsplit(self.ISSUER).scheme != "https":
            raise ValueError("production needs an https ISSUER")
        if self.SERVICE_CLIENT_SECRET is None and self.SERVICE_CLIENT_SECRET_FILE is None:
            # Without its credentials the service sees no revocations (and orders cannot
            # exchange tokens): refuse to start rather than run blind to logouts.
            raise ValueError("production needs SERVICE_CLIENT_SECRET_FILE (or _SECRET)")
        return self
