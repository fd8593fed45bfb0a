"""A rotation clears the previous sealed successor of its family by an index of only the rows
that hold one (partial: `sealed_successor IS NOT NULL`), so its cost does not grow with the
family: a session refreshed every 5 minutes for 90 days has about 26,000 rows (ADR 0014)."""

import sqlalchemy as sa
from alembic import op

revision = "0009_sealed_successor_index"
down_revision = "0008_passkeys"


def upgrade() -> None:
    op.create_index(
        "ix_refresh_tokens_sealed_successor",
        "refresh_tokens",
        ["session_id", "used_at"],
        postgresql_where=sa.text("sealed_successor IS NOT NULL"),
        sqlite_where=sa.text("sealed_successor IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_sealed_successor", table_name="refresh_tokens")
