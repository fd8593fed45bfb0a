"""auth's Alembic scripts (`services/auth/migrations`), run by `python -m auth_service migrate`."""

from __future__ import annotations

from pathlib import Path

from tessera.storage import Migrations

MIGRATIONS = Migrations(Path(__file__).resolve().parents[3] / "migrations")
