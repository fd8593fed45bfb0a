"""Alembic environment for auth; `python -m auth_service migrate` runs it."""

from auth_service.adapters.models import Base
from auth_service.config import Settings
from tessera.storage import run_migrations

run_migrations(Base.metadata, default_url=lambda: Settings().DATABASE_URL)
