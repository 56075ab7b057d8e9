"""Composition and the item ledger: the right items, each in exactly one edition."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from comms.collect.items import CollectedItem
from comms.collect.ledger import record_items
from comms.compose.newsletter import AlreadySent, Month, compose_newsletter
from comms.compose.themes import load_theme_map
from comms.config import Config, ItemKind, load_config
from comms.store.database import Database
from comms.store.models import EditionStatus, Item

REPO = Path(__file__).resolve().parents[2]
DEC_1 = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
JAN_1 = datetime(2027, 1, 1, 7, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    loaded, problems = load_config(REPO / "comms.toml")
    assert loaded is not None, problems
    newsletter = dataclasses.replace(loaded.newsletter, intro_dir=tmp_path)
    return dataclasses.replace(loaded, newsletter=newsletter)


def news(
    title: str, published: datetime, categories: tuple[str, ...] = (), **changes: object
) -> CollectedItem:
    values: dict[str, object] = {
        "source": "ipo-nieuws",
        "kind": ItemKind.NEWS,
        "title": title,
        "link": f"https://www.ipo.example.org/nieuws/{title.lower().replace(' ', '-')}",
        "summary_html": f"<p>{title}</p>",
        "guid": f"guid-{title}",
        "published_at": published,
        "categories": categories,
    }
    values.update(changes)
    return CollectedItem(**values)  # type: ignore[arg-type]


def event(title: str, starts: datetime) -> CollectedItem:
    return CollectedItem(
        source="kennissessies",
        kind=ItemKind.EVENT,
        title=title,
        link=None,
        summary_html="",
        guid=f"uid-{title}",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
    )


def compose(db: Database, config: Config, month: str, now: datetime):  # type: ignore[no-untyped-def]
    themes, _ = load_theme_map(REPO / "templates/themes.toml")
    with db.session() as session:
        composition = compose_newsletter(
            session, config, themes, Month.parse(month), now, kind="newsletter", audience="statenleden"
        )
        session.flush()
        return composition


def titles(entries) -> set[str]:  # type: ignore[no-untyped-def]
    return {e.title for e in entries}


def test_first_edition_takes_the_last_30_days_grouped_by_theme(db: Database, config: Config) -> None:
    with db.session() as session:
        record_items(
            session,
            [
                news("Stikstofaanpak", DEC_1 - timedelta(days=3), ("Stikstof",)),
                news("Netcongestie aangepakt", DEC_1 - timedelta(days=10)),
                news("Te oud", DEC_1 - timedelta(days=31)),
                news("AV vergadert", DEC_1 - timedelta(days=2), ("Algemene Vergadering",)),
                news("Fries nieuws", DEC_1 - timedelta(days=2), ("Fryslân",)),
                news("Zomaar iets", DEC_1 - timedelta(days=1)),
                event("Kennissessie omgevingswet", DEC_1 + timedelta(days=9)),
                event("Al geweest", DEC_1 - timedelta(days=9)),
                event("Te ver weg", DEC_1 + timedelta(days=90)),
            ],
            DEC_1 - timedelta(hours=1),
        )
    content = compose(db, config, "2026-12", DEC_1).content

    sections = {s.id: titles(s.entries) for s in content.sections}
    assert sections["landelijk-gebied"] == {"Stikstofaanpak"}
    assert sections["klimaat-leefomgeving"] == {"Netcongestie aangepakt"}
    assert sections["overig"] == {"Zomaar iets"}
    assert titles(content.av_entries) == {"AV vergadert"}
    assert {k: titles(v) for k, v in content.province_entries.items()} == {"Fryslân": {"Fries nieuws"}}
    assert titles(content.events) == {"Kennissessie omgevingswet"}


def test_no_item_goes_into_two_editions(db: Database, config: Config) -> None:
    with db.session() as session:
        record_items(session, [news("December", DEC_1 - timedelta(days=5))], DEC_1)
    december = compose(db, config, "2026-12", DEC_1)
    with db.session() as session:
        # the same entry again (another source, same link), a late arrival and a new one
        record_items(
            session,
            [
                news("December", DEC_1 - timedelta(days=5), source="bij12-nieuws", guid="other-guid"),
                news("Laat binnen", DEC_1 - timedelta(days=2)),
                news("Januari", JAN_1 - timedelta(days=5)),
            ],
            DEC_1 + timedelta(days=3),
        )
    january = compose(db, config, "2027-01", JAN_1)

    assert december.content.item_count == 1
    assert titles(s for sec in january.content.sections for s in sec.entries) == {
        "Laat binnen",
        "Januari",
    }
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 3
        per_edition = session.execute(select(Item.edition_id, func.count()).group_by(Item.edition_id)).all()
    assert sorted(n for _, n in per_edition) == [1, 2]


def test_rebuilding_a_draft_reuses_its_items_and_a_sent_edition_is_never_rebuilt(
    db: Database, config: Config
) -> None:
    with db.session() as session:
        record_items(session, [news("Een", DEC_1 - timedelta(days=1))], DEC_1)
    compose(db, config, "2026-12", DEC_1)
    again = compose(db, config, "2026-12", DEC_1 + timedelta(hours=1))
    assert again.content.item_count == 1

    with db.session() as session:
        edition = session.get(type(again.edition), again.edition.id)
        edition.status = EditionStatus.SENT
    with pytest.raises(AlreadySent, match="never rebuilt"):
        compose(db, config, "2026-12", DEC_1 + timedelta(hours=2))


def test_an_edition_without_items_is_held_and_says_why(db: Database, config: Config) -> None:
    composition = compose(db, config, "2026-12", DEC_1)
    assert composition.is_held
    assert composition.edition.status == EditionStatus.HELD
    reason = composition.edition.reason
    assert reason is not None
    assert "no new items since 2026-11-01 08:00 CET" in reason.en
    assert reason.nl == "er zijn sinds zondag 1 november 2026 om 8.00 uur geen nieuwe berichten"


def test_a_held_edition_does_not_move_the_window(db: Database, config: Config) -> None:
    nov_1 = DEC_1 - timedelta(days=30)
    with db.session() as session:
        record_items(session, [news("Oktober", nov_1 - timedelta(days=3))], nov_1)
    assert compose(db, config, "2026-11", nov_1).content.item_count == 1
    assert compose(db, config, "2026-12", DEC_1).is_held  # nothing new in November, yet
    with db.session() as session:
        record_items(session, [news("Half november", nov_1 + timedelta(days=14))], DEC_1 + timedelta(days=19))

    january = compose(db, config, "2027-01", JAN_1)  # looks back to November's edition
    assert titles(s for sec in january.content.sections for s in sec.entries) == {"Half november"}


# --- content bounds ------------------------------------------------------------------------

LONG = "<p>" + "Provincies werken samen aan natuur en water. " * 100 + "</p>"  # 4,500 characters


@pytest.mark.parametrize(
    ("summary", "max_chars", "read_more", "longest"),
    [
        ("<p>Kort.</p>", 1000, False, len("<p>Kort.</p>")),
        (LONG, 1000, True, 1000 + len("<p>…</p>")),
        (LONG, 200, True, 200 + len("<p>…</p>")),
        ("<p>" + "x" * 5_000_000 + "</p>", 1000, True, 1000 + len("<p>…</p>")),
    ],
    ids=["short: whole", "long: cut", "a lower setting", "5 MB"],
)
def test_item_text_is_capped_with_lees_verder(
    db: Database, config: Config, summary: str, max_chars: int, read_more: bool, longest: int
) -> None:
    config = dataclasses.replace(
        config, newsletter=dataclasses.replace(config.newsletter, max_item_chars=max_chars)
    )
    with db.session() as session:
        record_items(session, [news("Samen", DEC_1 - timedelta(days=1), summary_html=summary)], DEC_1)

    [entry] = [e for s in compose(db, config, "2026-12", DEC_1).content.sections for e in s.entries]

    assert len(entry.summary_html) <= longest
    assert entry.read_more == (entry.link if read_more else None)
    assert entry.summary_html.endswith("…</p>") is read_more


def test_items_over_the_cap_are_left_out_and_reported(db: Database, config: Config) -> None:
    config = dataclasses.replace(config, newsletter=dataclasses.replace(config.newsletter, max_items=3))
    with db.session() as session:
        record_items(
            session,
            [
                news("Gisteren", DEC_1 - timedelta(days=1)),
                news("Vorige week", DEC_1 - timedelta(days=7)),
                news("Vorige maand", DEC_1 - timedelta(days=25)),
                event("Volgende week", DEC_1 + timedelta(days=6)),
                event("Over twee maanden", DEC_1 + timedelta(days=60)),
            ],
            DEC_1 - timedelta(hours=1),
        )

    composition = compose(db, config, "2026-12", DEC_1)

    content = composition.content
    kept = {e.title for s in content.sections for e in s.entries} | titles(content.events)
    assert kept == {"Gisteren", "Vorige week", "Volgende week"}  # the nearest to the edition's date
    assert composition.left_out == 2
    assert [str(p) for p in composition.problems if "left out" in p.reason] == [
        "[newsletter] max_items: 2 item(s) left out: an edition holds at most 3; "
        "the newest news and the soonest events were kept",
        "ipo-nieuws [Vorige maand]: left out of this edition (max_items)",
        "kennissessies [Over twee maanden]: left out of this edition (max_items)",
    ]
    assert not any(p.is_error for p in composition.problems)
    with db.session() as session:
        assigned = session.scalars(select(Item.title).where(Item.edition_id.is_not(None))).all()
    assert set(assigned) == kept  # the left-out items are not held by this edition


def test_a_long_left_out_list_is_counted_after_the_first_twenty(db: Database, config: Config) -> None:
    config = dataclasses.replace(config, newsletter=dataclasses.replace(config.newsletter, max_items=5))
    with db.session() as session:
        items = [news(f"Bericht {n}", DEC_1 - timedelta(hours=n + 1)) for n in range(50)]
        record_items(session, items, DEC_1 - timedelta(hours=1))

    composition = compose(db, config, "2026-12", DEC_1)

    reported = [str(p) for p in composition.problems if "left out" in p.reason]
    assert len(reported) == 1 + 20 + 1
    assert reported[-1] == "[newsletter] max_items: … and 25 more left out"
    assert composition.content.item_count == 5
