"""Suppressions: idempotent, keyed by lower-cased address, and only personal ones undone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from comms.store.database import Database
from comms.track.suppressions import (
    ADDED_BY_HAND,
    DROPPED,
    EVERY_KIND,
    HARD_BOUNCE,
    PREFERENCE_CENTRE,
    REASONS,
    SPAM_REPORT,
    UNSUBSCRIBED,
    Block,
    is_suppressed,
    list_suppressions,
    suppress,
    unsuppress,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ADDRESS = "jan.smit@drenthe.example.org"


def rows(db: Database, email: str | None = None) -> list[tuple[str, str, str]]:
    with db.session() as session:
        return [(s.email, s.scope, s.reason) for s in list_suppressions(session, email)]


def test_suppress_is_idempotent_and_normalises_the_address(db: Database) -> None:
    with db.session() as session:
        first = suppress(session, "  Jan.Smit@Drenthe.Example.org ", "newsletter", UNSUBSCRIBED, NOW)
        again = suppress(session, ADDRESS, "newsletter", UNSUBSCRIBED, NOW + timedelta(days=1))

    assert (first, again) == (True, False)
    assert rows(db) == [(ADDRESS, "newsletter", UNSUBSCRIBED)]
    with db.session() as session:
        assert list_suppressions(session)[0].created_at == NOW


def test_the_same_address_may_be_suppressed_per_scope(db: Database) -> None:
    with db.session() as session:
        assert suppress(session, ADDRESS, "newsletter", PREFERENCE_CENTRE, NOW)
        assert suppress(session, ADDRESS, "survey", UNSUBSCRIBED, NOW)
        assert suppress(session, "ander@example.org", EVERY_KIND, HARD_BOUNCE, NOW)

    assert rows(db, ADDRESS.upper()) == [
        (ADDRESS, "newsletter", PREFERENCE_CENTRE),
        (ADDRESS, "survey", UNSUBSCRIBED),
    ]
    assert len(rows(db)) == 3


@pytest.mark.parametrize(
    ("reason", "lifted"),
    [
        (UNSUBSCRIBED, 1),
        (PREFERENCE_CENTRE, 1),
        (ADDED_BY_HAND, 1),
        (HARD_BOUNCE, 0),
        (SPAM_REPORT, 0),
        (DROPPED, 0),
    ],
)
def test_only_what_a_person_chose_can_be_undone(db: Database, reason: str, lifted: int) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, "newsletter", reason, NOW)
        assert unsuppress(session, ADDRESS.upper(), "newsletter") == lifted
        assert is_suppressed(session, ADDRESS, "newsletter") is (lifted == 0)
    assert Block("newsletter", reason).person_may_undo is bool(lifted)


def test_unsuppress_touches_only_its_scope(db: Database) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, EVERY_KIND, UNSUBSCRIBED, NOW)
        suppress(session, ADDRESS, "survey", UNSUBSCRIBED, NOW)
        assert unsuppress(session, ADDRESS, "newsletter") == 0
        assert unsuppress(session, ADDRESS, "survey") == 1

    assert rows(db) == [(ADDRESS, EVERY_KIND, UNSUBSCRIBED)]


def test_unsuppress_can_be_narrowed_but_never_to_permanent_reasons(db: Database) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, "newsletter", PREFERENCE_CENTRE, NOW)
        assert unsuppress(session, ADDRESS, "newsletter", reasons={UNSUBSCRIBED}) == 0
        with pytest.raises(ValueError, match="undo"):
            unsuppress(session, ADDRESS, "newsletter", reasons={HARD_BOUNCE})

    assert rows(db) == [(ADDRESS, "newsletter", PREFERENCE_CENTRE)]


@pytest.mark.parametrize("earlier", [UNSUBSCRIBED, PREFERENCE_CENTRE, ADDED_BY_HAND])
def test_a_permanent_reason_replaces_a_personal_one(db: Database, earlier: str) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, EVERY_KIND, earlier, NOW)
        assert suppress(session, ADDRESS, EVERY_KIND, HARD_BOUNCE, NOW) is False
        assert unsuppress(session, ADDRESS, EVERY_KIND) == 0

    assert rows(db) == [(ADDRESS, EVERY_KIND, HARD_BOUNCE)]


def test_a_personal_reason_never_replaces_a_permanent_one(db: Database) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, EVERY_KIND, SPAM_REPORT, NOW)
        suppress(session, ADDRESS, EVERY_KIND, UNSUBSCRIBED, NOW)

    assert rows(db) == [(ADDRESS, EVERY_KIND, SPAM_REPORT)]


@pytest.mark.parametrize(
    ("scope", "kind", "suppressed"),
    [
        (EVERY_KIND, "newsletter", True),
        (EVERY_KIND, "survey", True),
        ("newsletter", "newsletter", True),
        ("newsletter", "survey", False),
        ("agenda-digest", "agenda-notice", False),
    ],
)
def test_is_suppressed_follows_the_scope(db: Database, scope: str, kind: str, suppressed: bool) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, scope, UNSUBSCRIBED, NOW)
        assert is_suppressed(session, ADDRESS, kind) is suppressed
        assert is_suppressed(session, "iemand.anders@example.org", kind) is False


def test_unknown_reasons_are_refused(db: Database) -> None:
    with db.session() as session, pytest.raises(ValueError, match="reason"):
        suppress(session, ADDRESS, "newsletter", "because", NOW)
    assert "because" not in REASONS


def test_log_lines_carry_no_address(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="comms.track")
    with db.session() as session:
        suppress(session, ADDRESS, "newsletter", UNSUBSCRIBED, NOW)
        suppress(session, ADDRESS, "newsletter", HARD_BOUNCE, NOW)
        unsuppress(session, ADDRESS, "survey")

    assert caplog.records
    assert all("drenthe" not in record.getMessage().lower() for record in caplog.records)
