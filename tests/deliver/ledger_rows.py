"""A large message ledger built in SQL (no ORM objects): contacts and one edition's messages,
most of them already sent ahead of the pending ones, as in a send that is under way.

Shared by the claim-plan tests and benchmarks/bench_claim.py / bench_snapshot.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from comms.store.models import UTCDateTime

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
_SERIES = {
    "postgresql": "SELECT n FROM generate_series(1, :count) AS n",
    # SQLite has no generate_series without an extension: a recursive CTE counts.
    "sqlite": "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :count) "
    "SELECT n FROM s",
}
_HEX = {"postgresql": "lpad(to_hex(n), 16, '0')", "sqlite": "printf('%016x', n)"}


def insert_contacts(session: Session, count: int, start: int = 0) -> None:
    """`count` active contacts (ids from `start` + 1), one statement."""
    dialect = session.get_bind().dialect.name
    series = f"SELECT n + :start AS n FROM ({_SERIES[dialect]}) AS counted"
    statement = text(
        "INSERT INTO contacts (id, public_id, email, first_name, infix, last_name, province, roles, "
        "themes, bodies, active, source_file, updated_at) "
        f"SELECT n, {_HEX[dialect]}, 'lid' || n || '@provincie.example.org', 'Lid', '', 'Nummer' || n, "
        f"'Utrecht', ',statenlid,', ',', ',', true, 'synthetic', :now FROM ({series}) AS numbers"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    session.execute(statement, {"count": count, "start": start, "now": NOW})


def new_edition(session: Session, key: str = "nieuwsbrief-2026-12") -> int:
    """A sending edition, in SQL (so it also goes into a schema older than the models)."""
    statement = text(
        "INSERT INTO editions (key, kind, subject, audience, status, built_at, summary) "
        "VALUES (:key, 'newsletter', 's', 'all', 'sending', :now, '{}') RETURNING id"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    edition_id: int = session.execute(statement, {"key": key, "now": NOW}).scalar_one()
    return edition_id


def insert_ledger(session: Session, edition_id: int, sent: int, retries: int = 0) -> None:
    """One message per contact: the first `sent` sent, then `retries` failed ones due again,
    then the rest pending."""
    statement = text(
        "INSERT INTO messages (edition_id, contact_id, variant, status, attempts, sent_at, retry_at) "
        "SELECT :edition, id, '', "
        "CASE WHEN id <= :sent THEN 'sent' WHEN id <= :sent + :retries THEN 'failed' ELSE 'pending' END, "
        "CASE WHEN id <= :sent + :retries THEN 1 ELSE 0 END, "
        "CASE WHEN id <= :sent THEN :now END, "
        "CASE WHEN id > :sent AND id <= :sent + :retries THEN :now END "
        "FROM contacts ORDER BY id"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    session.execute(statement, {"edition": edition_id, "sent": sent, "retries": retries, "now": NOW})
