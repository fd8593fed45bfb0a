"""How each session's user last authenticated (DESIGN §11): the access tokens' `auth_time`,
`acr` and `amr`, kept by the session so refreshes carry them unchanged and a step-up can
raise them.

Existing sessions signed in with a password when they were created: that is what they get.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_session_auth_context"
down_revision = "0005_email_and_mail"


def upgrade() -> None:
    with op.batch_alter_table("sessions") as sessions:
        sessions.add_column(
            sa.Column("authenticated_at", sa.DateTime(timezone=True), nullable=True)
        )
        sessions.add_column(
            sa.Column("acr", sa.String(40), nullable=False, server_default="urn:tessera:acr:pwd")
        )
        sessions.add_column(
            sa.Column("amr", sa.JSON(), nullable=False, server_default=sa.text("'[\"pwd\"]'"))
        )
    op.execute("UPDATE sessions SET authenticated_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("sessions") as sessions:
        sessions.drop_column("amr")
        sessions.drop_column("acr")
        sessions.drop_column("authenticated_at")
