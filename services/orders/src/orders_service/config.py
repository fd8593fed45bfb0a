"""The orders service's one Settings class: from the environment (no prefix), checked at start."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tessera import ServiceIdentitySettings


class Settings(BaseSettings, ServiceIdentitySettings):
    """Everything orders can be configured with; see the settings convention in the README."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    ENVIRONMENT: Literal["dev", "production"] = "dev"
    DATABASE_URL: str = "sqlite+aiosqlite:///var/orders.db"
    HTTP_HOST: str = "127.0.0.1"
    HTTP_PORT: int = Field(default=8002, ge=0, le=65535)
    ISSUER: str = "http://localhost:8000"
    JWKS_URL: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    TOKEN_LEEWAY_SECONDS: float = Field(default=30, ge=0, le=300)
    LOG_LEVEL: str = "INFO"
    TRUSTED_PROXIES: str = "127.0.0.1"
    BILLING_GRPC_TARGET: str = "127.0.0.1:50051"
    BILLING_DEADLINE_SECONDS: float = Field(default=3.0, gt=0, le=30)
    """Deadline of every call to billing; past it the order stays payment_pending."""
    SERVICE_CLIENT_ID: str = "orders"

    @model_validator(mode="after")
    def _refuse_insecure_production_defaults(self) -> Settings:
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
