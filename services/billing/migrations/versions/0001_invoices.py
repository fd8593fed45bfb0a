"""Invoices, unique per (user, idempotency key)."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refund_reason", sa.String(500), nullable=True),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_invoices_user_idempotency_key"),
    )
    op.create_index("ix_invoices_user_created", "invoices", ["user_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_invoices_user_created", table_name="invoices")
    op.drop_table("invoices")
