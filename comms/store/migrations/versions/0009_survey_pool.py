"""survey_pool: anonymous responses wait, sealed, until written in batches; invitations counted
in the published results

Revision ID: 0009_survey_pool
Revises: 0008
"""

import json
import uuid
from collections import Counter

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
    _reshuffle_anonymous_responses()


def _reshuffle_anonymous_responses() -> None:
    """Responses of anonymous rounds stored before the pool shared a transaction (xmin) with their
    invitation and lay in the order of submission: they are written again, in one transaction, in
    the order of new random ids, with role and province only where at least min_group_size of the
    round share the pair (else "overig"); the invitations are rewritten too, so no xmin is left
    that tells when one was answered. A self-contained copy of the rule, as migrations must be."""
    bind = op.get_bind()
    surveys = bind.execute(
        sa.text("SELECT id, definition FROM surveys WHERE anonymous = :yes"), {"yes": True}
    )
    for survey_id, definition in surveys.all():
        minimum = max(int(json.loads(definition).get("min_group_size", 5)), 1)
        rows = bind.execute(
            sa.text("SELECT role, province, answers FROM survey_responses WHERE survey_id = :s"),
            {"s": survey_id},
        ).all()
        sizes = Counter((role, province) for role, province, _ in rows)
        residue = sum(size for size in sizes.values() if size < minimum)
        keep = {pair for pair, size in sizes.items() if size >= minimum and not 0 < residue < minimum}
        fresh = sorted(
            (
                uuid.uuid4().hex,
                *((role, province) if (role, province) in keep else ("overig", "overig")),
                answers,
            )
            for role, province, answers in rows
        )
        bind.execute(sa.text("DELETE FROM survey_responses WHERE survey_id = :s"), {"s": survey_id})
        for response_id, role, province, answers in fresh:
            bind.execute(
                sa.text(
                    "INSERT INTO survey_responses (id, survey_id, role, province, answers) "
                    "VALUES (:id, :s, :role, :province, :answers)"
                ),
                {"id": response_id, "s": survey_id, "role": role, "province": province, "answers": answers},
            )
        bind.execute(
            sa.text("UPDATE survey_invitations SET counted = submitted WHERE survey_id = :s"),
            {"s": survey_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.drop_column("counted")
    op.drop_table("survey_pool")
