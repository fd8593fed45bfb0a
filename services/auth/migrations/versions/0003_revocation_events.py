"""Revocation events (the outbox the feed serves) and the feed's pruning watermark."""

import sqlalchemy as sa
from alembic import op

revision = "0003_revocation_events"
down_revision = "0002_service_clients"


def upgrade() -> None:
    op.create_table(
        "revocation_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("min_ver", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('session', 'user', 'token', 'key')", name="ck_revocation_events_kind"
        ),
        sa.CheckConstraint(
            "(kind = 'user') = (min_ver IS NOT NULL)", name="ck_revocation_events_min_ver"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_revocation_events_expires_at", "revocation_events", ["expires_at"])
    state = op.create_table(
        "revocation_feed_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(state, [{"name": "pruned_through", "value": 0}])


def downgrade() -> None:
    op.drop_table("revocation_feed_state")
    op.drop_index("ix_revocation_events_expires_at", table_name="revocation_events")
    op.drop_table("revocation_events")
