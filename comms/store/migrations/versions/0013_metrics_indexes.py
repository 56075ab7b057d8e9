"""metrics indexes: messages.sent_at (send rate) and delivery_events.received_at (webhook lag)

/metrics reads the messages sent in the last five minutes and the latest webhook post at
every scrape; without these indexes both are a scan of a table that grows with every send.

Revision ID: 0013_metrics_indexes
Revises: 0012_ledger_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_metrics_indexes"
down_revision = "0012_ledger_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial: the rows a snapshot inserts are not sent yet and need no entry.
    op.create_index(
        "ix_messages_sent_at",
        "messages",
        ["sent_at"],
        sqlite_where=sa.text("sent_at IS NOT NULL"),
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )
    op.create_index("ix_delivery_events_received_at", "delivery_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_events_received_at", table_name="delivery_events")
    op.drop_index("ix_messages_sent_at", table_name="messages")
