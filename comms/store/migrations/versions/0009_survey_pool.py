"""survey_pool: anonymous responses wait, sealed, until written in batches; invitations counted
in the published results

Revision ID: 0009_survey_pool
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_survey_pool"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_pool",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("survey_pool", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_pool_survey_id"), ["survey_id"], unique=False)
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Rounds answered before: every response was stored at once, so every answer is counted.
    op.execute("UPDATE survey_invitations SET counted = submitted")


def downgrade() -> None:
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.drop_column("counted")
    op.drop_table("survey_pool")
