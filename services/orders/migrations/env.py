"""Alembic environment for the orders service; `python -m orders_service migrate` runs it."""

from orders_service.adapters.models import Base
from orders_service.config import Settings
from tessera.storage import run_migrations

run_migrations(Base.metadata, default_url=lambda: Settings().DATABASE_URL)
