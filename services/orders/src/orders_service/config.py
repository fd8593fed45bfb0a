"""The orders service's one Settings class: from the environment (no prefix), checked at start.

What every resource service has (where it listens, its database, auth's issuer, JWKS and
feed, its own client credentials) comes from `tessera.ResourceServerSettings`; the rest is
orders' own.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from tessera import ResourceServerSettings


class Settings(BaseSettings, ResourceServerSettings):
    """Everything orders can be configured with; each setting's docstring is its description
    (docs/settings.md and services/orders/.env.example are generated from them)."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", use_attribute_docstrings=True
    )

    DATABASE_URL: str = "sqlite+aiosqlite:///var/orders.db"
    HTTP_PORT: int = Field(default=8002, ge=0, le=65535)
    MAX_REQUEST_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    """An order of a hundred lines fits in well under this."""
    SERVICE_CLIENT_ID: str = "orders"
    BILLING_GRPC_TARGET: str = "127.0.0.1:50051"
    """billing's gRPC address (`host:port`)."""
    BILLING_DEADLINE_SECONDS: float = Field(default=3.0, gt=0, le=30)
    """Deadline of every call to billing; past it the order stays payment_pending."""
    PAYMENT_RECONCILE_INTERVAL_SECONDS: float = Field(default=2.0, gt=0, le=3600)
    """How often the payment reconciler looks for pending charges that are due."""
    REFUND_MAX_AGE_SECONDS: int = Field(default=300, ge=0, le=86_400)
    """billing's rule for refunds (set both alike): orders checks it before a cancel charges
    a pending order, so nobody is charged and then refused the refund."""
