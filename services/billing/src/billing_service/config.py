"""billing's one Settings class: read from the environment (no prefix), validated at start-up."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from tessera import ServiceIdentitySettings


class Settings(BaseSettings, ServiceIdentitySettings):
    """Everything billing can be configured with; see the settings convention in the README."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore")

    ENVIRONMENT: Literal["dev", "production"] = "dev"
    DATABASE_URL: str = "sqlite+aiosqlite:///var/billing.db"
    HTTP_HOST: str = "127.0.0.1"
    HTTP_PORT: int = Field(default=8003, ge=0, le=65535)
    GRPC_HOST: str | None = None
    """Where gRPC listens; defaults to HTTP_HOST (one address for both in every deployment)."""
    GRPC_PORT: int = Field(default=50051, ge=0, le=65535)
    GRPC_SHUTDOWN_GRACE_SECONDS: float = Field(default=5.0, ge=0)
    ISSUER: str = "http://localhost:8000"
    JWKS_URL: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    TOKEN_LEEWAY_SECONDS: float = Field(default=30, ge=0, le=300)
    LOG_LEVEL: str = "INFO"
    TRUSTED_PROXIES: str = "127.0.0.1"
    INVOICE_PAGE_SIZE_MAX: int = Field(default=100, ge=1, le=1000)
    SERVICE_CLIENT_ID: str = "billing"

    @property
    def grpc_host(self) -> str:
        """The address gRPC binds to."""
        return self.GRPC_HOST or self.HTTP_HOST

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
