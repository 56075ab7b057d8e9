"""Preference rules: kinds as suppressions, themes in Preference, bounces held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from comms.domain import THEMES
from comms.store.database import Database
from comms.store.models import Preference
from comms.track.preferences import THEME_IDS, get_preferences, save_preferences
from comms.track.suppressions import (
    EVERY_KIND,
    HARD_BOUNCE,
    PREFERENCE_CENTRE,
    UNSUBSCRIBED,
    list_suppressions,
    suppress,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ADDRESS = "els.bakker@flevoland.example.org"
# The preference rules hold for whatever kinds the service has (comms.kinds lists the real ones).
KINDS = frozenset({"newsletter", "agenda-notice", "agenda-digest", "survey"})


def scopes(db: Database) -> set[tuple[str, str]]:
    with db.session() as session:
        return {(s.scope, s.reason) for s in list_suppressions(session, ADDRESS)}


def stored_themes(db: Database) -> str | None:
    with db.session() as session:
        return session.scalars(select(Preference.themes).where(Preference.email == ADDRESS)).one()


def test_without_choices_an_address_gets_everything(db: Database) -> None:
    with db.session() as session:
        view = get_preferences(session, ADDRESS, KINDS)

    assert view.subscribed == KINDS
    assert view.chosen_themes is None
    assert view.themes == THEME_IDS
    assert view.every_theme
    assert all(view.may_change(kind) for kind in KINDS)


def test_saving_turns_kinds_left_out_into_suppressions(db: Database) -> None:
    with db.session() as session:
        view = save_preferences(session, ADDRESS.upper(), {"newsletter"}, {"landelijk-gebied"}, NOW, KINDS)

    assert view.subscribed == {"newsletter"}
    assert view.themes == {"landelijk-gebied"}
    assert not view.every_theme
    assert scopes(db) == {(k, PREFERENCE_CENTRE) for k in KINDS - {"newsletter"}}
    assert stored_themes(db) == ",landelijk-gebied,"


def test_choosing_kinds_again_lifts_personal_suppressions_only(db: Database) -> None:
    with db.session() as session:
        save_preferences(session, ADDRESS, set(), set(), NOW, KINDS)
        suppress(session, ADDRESS, "survey", UNSUBSCRIBED, NOW)  # already there: stays as it was

    with db.session() as session:
        view = save_preferences(session, ADDRESS, KINDS, set(), NOW + timedelta(days=1), KINDS)

    assert view.subscribed == KINDS
    assert scopes(db) == set()


@pytest.mark.parametrize(
    ("themes", "stored"),
    [
        (set(), None),
        (set(THEME_IDS), None),
        ({"klimaat-leefomgeving", "ondernemen-cultuur"}, ",klimaat-leefomgeving,ondernemen-cultuur,"),
    ],
    ids=["none-means-all", "all-five", "two"],
)
def test_themes_are_stored_only_when_they_narrow_the_newsletter(
    db: Database, themes: set[str], stored: str | None
) -> None:
    with db.session() as session:
        save_preferences(session, ADDRESS, KINDS, {THEMES[0].id}, NOW, KINDS)
        save_preferences(session, ADDRESS, KINDS, themes, NOW + timedelta(hours=1), KINDS)

    assert stored_themes(db) == stored


def test_a_hard_bounce_is_held_whatever_is_saved(db: Database) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, EVERY_KIND, HARD_BOUNCE, NOW)
        view = save_preferences(session, ADDRESS, KINDS, set(), NOW, KINDS)

    assert view.subscribed == frozenset()
    assert set(view.held) == KINDS
    assert not view.may_change("newsletter")
    assert scopes(db) == {(EVERY_KIND, HARD_BOUNCE)}


def test_a_global_unsubscribe_becomes_per_kind_when_some_kinds_are_chosen(db: Database) -> None:
    with db.session() as session:
        suppress(session, ADDRESS, EVERY_KIND, UNSUBSCRIBED, NOW)  # SendGrid's global unsubscribe
        assert get_preferences(session, ADDRESS, KINDS).subscribed == frozenset()
        view = save_preferences(session, ADDRESS, {"survey"}, set(), NOW, KINDS)

    assert view.subscribed == {"survey"}
    assert scopes(db) == {(k, PREFERENCE_CENTRE) for k in KINDS - {"survey"}}


def test_unknown_kinds_or_themes_are_refused(db: Database) -> None:
    with db.session() as session, pytest.raises(ValueError, match="unknown"):
        save_preferences(session, ADDRESS, {"reclame"}, set(), NOW, KINDS)
