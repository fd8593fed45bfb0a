"""billing's one Settings class: read from the environment (no prefix), validated at start-up.

What every resource service has (where it listens, its database, auth's issuer, JWKS and
feed, its own client credentials) comes from `tessera.ResourceServerSettings`; the rest is
billing's own: its gRPC server and invoice paging.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from tessera import ResourceServerSettings


class Settings(BaseSettings, ResourceServerSettings):
    """Everything billing can be configured with; each setting's docstring is its description
    (docs/settings.md and services/billing/.env.example are generated from them)."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", use_attribute_docstrings=True
    )

    DATABASE_URL: str = "sqlite+aiosqlite:///var/billing.db"
    HTTP_PORT: int = Field(default=8003, ge=0, le=65535)
    SERVICE_CLIENT_ID: str = "billing"
    GRPC_HOST: str | None = None
    """Where gRPC listens; defaults to HTTP_HOST (one address for both in every deployment)."""
    GRPC_PORT: int = Field(default=50051, ge=0, le=65535)
    """The port gRPC (BillingService, health, reflection) listens on."""
    GRPC_SHUTDOWN_GRACE_SECONDS: float = Field(default=5.0, ge=0)
    """On SIGTERM, how long open gRPC calls may finish before they are cancelled."""
    INVOICE_PAGE_SIZE_MAX: int = Field(default=100, ge=1, le=1000)
    """The largest page of invoices one request may ask for."""
    REFUND_MAX_AGE_SECONDS: int = Field(default=300, ge=0, le=86_400)
    """A refund needs the user to have authenticated this recently (a step-up, RFC 9470)."""

    @property
    def grpc_host(self) -> str:
        """The address gRPC binds to."""
        return self.GRPC_HOST or self.HTTP_HOST
