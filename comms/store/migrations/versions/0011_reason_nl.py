"""reason_nl: an edition's status reason in Dutch beside the English one

Revision ID: 0011_reason_nl
Revises: 0010_team
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0011_reason_nl"
down_revision = "0010_team"
branch_labels = None
depends_on = None

# The reasons stored so far that can be said in Dutch without guessing; others stay English
# (the console then shows those as they are). Written out here: a migration does not follow
# later changes of the application's wording.
_DUTCH = [
    (re.compile(r"held by (?P<by>[^:]+): (?P<why>.*)", re.S), "aangehouden door {by}: {why}"),
    (re.compile(r"discarded by (?P<by>.+)", re.S), "vervallen verklaard door {by}"),
    (re.compile(r"superseded by a newer agenda version"), "vervangen door een nieuwere versie van de agenda"),
    (
        re.compile(r"the survey closed before it went out"),
        "de enquête was al gesloten voordat dit bericht uit zou gaan",
    ),
]


def dutch(english: str) -> str | None:
    for pattern, wording in _DUTCH:
        found = pattern.fullmatch(english)
        if found:
            return wording.format(**found.groupdict())
    return None


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("status_reason_nl", sa.Text(), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, status_reason FROM editions WHERE status_reason IS NOT NULL")
    )
    for edition_id, english in rows.all():
        nl = dutch(english)
        if nl is not None:
            connection.execute(
                sa.text("UPDATE editions SET status_reason_nl = :nl WHERE id = :id"),
                {"nl": nl, "id": edition_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("status_reason_nl")
