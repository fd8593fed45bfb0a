"""Pending charges for the payment reconciler, and why an order is pending or failed.

Orders already `payment_pending` get a pending charge without a token, due now: the
reconciler fails them as `authorization_expired`, and their owners can pay them again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("orders", sa.Column("status_reason", sa.String(32), nullable=True))
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at"])
    op.create_table(
        "pending_charges",
        sa.Column(
            "order_id",
            sa.String(36),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sealed_token", sa.LargeBinary(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pending_charges_next_attempt", "pending_charges", ["next_attempt_at"])
    op.execute(
        "INSERT INTO pending_charges (order_id, attempts, next_attempt_at) "
        "SELECT id, 0, CURRENT_TIMESTAMP FROM orders WHERE status = 'payment_pending'"
    )


def downgrade() -> None:
    op.drop_index("ix_pending_charges_next_attempt", table_name="pending_charges")
    op.drop_table("pending_charges")
    op.drop_index("ix_orders_status_created", table_name="orders")
    op.drop_column("orders", "status_reason")
