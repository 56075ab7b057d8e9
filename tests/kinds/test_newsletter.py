"""The newsletter kind's build: bounded by its caps whatever the feeds hold, and the team is
warned before Gmail would clip it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comms.collect.items import CollectedItem
from comms.collect.ledger import record_items
from comms.config import ItemKind, load_config
from comms.kinds import BuildRequest
from comms.kinds.newsletter import KIND
from comms.operations import editions
from comms.service import Service

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
# A few categories so items land in every kind of block: themes, provinces, the AV, the rest.
CATEGORIES = [(), ("Stikstof",), ("Fryslân",), ("Utrecht",), ("Algemene Vergadering",), ("Energie",)]
MAX_MESSAGE_BYTES = 160 * 1024  # HTML and text of the largest copy, every block kept


def service_for(project: Path, **newsletter: int) -> Service:
    config, problems = load_config(project / "comms.toml")
    assert config is not None, problems
    settings = dataclasses.replace(config.newsletter, intro_dir=project / "geen", **newsletter)
    return Service.open(dataclasses.replace(config, newsletter=settings))


def items(count: int, text_chars: int) -> list[CollectedItem]:
    return [
        CollectedItem(
            source="ipo-nieuws",
            kind=ItemKind.NEWS,
            title=f"Bericht {n}",
            link=f"https://www.ipo.example.org/nieuws/{n}",
            summary_html="<p>" + "woord " * (text_chars // 6) + "</p>",
            guid=f"nieuws-{n}",
            published_at=NOW - timedelta(minutes=n + 1),
            categories=CATEGORIES[n % len(CATEGORIES)],
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "text_chars", "settings", "kept", "warned"),
    [
        (1, 5_000_000, {}, 1, False),
        (1_500, 50, {}, 40, False),
        (1_500, 5_000, {}, 40, False),
        pytest.param(15_000, 50, {}, 40, False, marks=pytest.mark.slow),  # as reported: 30 s to record
        (60, 1_200, {"max_items": 60, "max_item_chars": 1_200}, 60, True),
    ],
    ids=[
        "one item of 5 MB",
        "1,500 small items",
        "1,500 long items",
        "15,000 small items",
        "caps raised: over 100 KB",
    ],
)
def test_an_edition_stays_small_whatever_the_feeds_hold(
    project: Path, count: int, text_chars: int, settings: dict[str, int], kept: int, warned: bool
) -> None:
    service = service_for(project, **settings)
    with service.db.session() as session:
        record_items(session, items(count, text_chars), NOW - timedelta(hours=1))

    outcome = KIND.build(service, BuildRequest(NOW, period="2026-12"))

    assert outcome.contents.startswith(f"{kept} items")
    left_out = [str(p) for p in outcome.problems if "item(s) left out" in p.reason]
    assert len(left_out) == (count > kept)
    size = [p for p in outcome.problems if "over 100 KB of HTML" in p.reason]
    assert len(size) == warned
    if warned:
        assert not size[0].is_error
        assert "Gmail clips messages over 102 KB" in size[0].reason
    else:  # within the default caps every copy is small
        html, text = editions.preview(service, outcome.key, None)  # every block at once
        assert len(html.encode()) <= 100 * 1024
        assert len(html.encode()) + len(text.encode()) <= MAX_MESSAGE_BYTES


def test_a_cut_item_says_lees_verder_in_html_and_text(project: Path) -> None:
    service = service_for(project, max_item_chars=100)
    with service.db.session() as session:
        record_items(session, items(1, 1_000), NOW - timedelta(hours=1))

    outcome = KIND.build(service, BuildRequest(NOW, period="2026-12"))
    html, text = editions.preview(service, outcome.key, None)

    link = "https://www.ipo.example.org/nieuws/0"
    assert f'<a href="{link}" aria-label="Lees verder: Bericht 0">Lees verder</a>' in html
    assert f"Lees verder: {link}" in text
    assert "woord woord…" in text


def test_the_widest_variants_are_one_per_province() -> None:
    blocks = frozenset({"av", "thema:energie", "provincie:utrecht", "provincie:fryslan"})

    assert KIND.widest_variants(blocks) == [
        frozenset({"av", "thema:energie", "provincie:fryslan"}),
        frozenset({"av", "thema:energie", "provincie:utrecht"}),
    ]
