"""Service clients: confidential clients (orders, billing, ...), hashed secrets, permissions."""

import sqlalchemy as sa
from alembic import op

revision = "0002_service_clients"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "service_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("allowed_grants", sa.JSON(), nullable=False),
        sa.Column("allowed_audiences", sa.JSON(), nullable=False),
        sa.Column("allowed_scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_clients")
