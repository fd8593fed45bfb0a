"""orders' Alembic scripts (`services/orders/migrations`), run by its `migrate` command."""

from __future__ import annotations

from pathlib import Path

from tessera.storage import Migrations

MIGRATIONS = Migrations(Path(__file__).resolve().parents[3] / "migrations")
