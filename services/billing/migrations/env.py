"""Alembic environment for billing; `python -m billing_service migrate` runs it."""

from billing_service.adapters.models import Base
from billing_service.config import Settings
from tessera.storage import run_migrations

run_migrations(Base.metadata, default_url=lambda: Settings().DATABASE_URL)
