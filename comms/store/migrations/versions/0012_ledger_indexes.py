"""ledger_indexes: indexes that serve the delivery claim, and an edition's ledger in the making

The claim looks up pending messages in id order (ix_messages_due) and retries by the time
they are due (ix_messages_retry, partial: only rows with a retry time), so a claim costs the
same at the first message and at the millionth. ix_messages_due replaces ix_messages_queue
(edition_id, status, variant): one index fewer to write per ledger row.
editions.ledger_through marks an edition whose audience is still being copied into the ledger
in batches.

Revision ID: 0012_ledger_indexes
Revises: 0011_reason_nl
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_ledger_indexes"
down_revision = "0011_reason_nl"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("ledger_through", sa.Integer(), nullable=True))
    op.create_index("ix_messages_due", "messages", ["edition_id", "status", "id"])
    op.drop_index("ix_messages_queue", table_name="messages")  # ix_messages_due serves its queries
    op.create_index(
        "ix_messages_retry",
        "messages",
        ["edition_id", "retry_at"],
        sqlite_where=sa.text("retry_at IS NOT NULL"),
        postgresql_where=sa.text("retry_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.create_index("ix_messages_queue", "messages", ["edition_id", "status", "variant"])
    op.drop_index("ix_messages_retry", table_name="messages")
    op.drop_index("ix_messages_due", table_name="messages")
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("ledger_through")
