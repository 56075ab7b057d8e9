"""reason_nl: an edition's status reason in Dutch beside the English one

Revision ID: 0011_reason_nl
Revises: 0010_team
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_reason_nl"
down_revision = "0010_team"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("status_reason_nl", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("status_reason_nl")
