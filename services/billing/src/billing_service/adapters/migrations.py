"""billing's Alembic scripts (`services/billing/migrations`), run by its `migrate` command."""

from __future__ import annotations

from pathlib import Path

from tessera.storage import Migrations

MIGRATIONS = Migrations(Path(__file__).resolve().parents[3] / "migrations")
