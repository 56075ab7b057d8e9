"""The sample data agrees with itself: every meeting date the texts mention is in the feeds.

A demo is the first thing a new team sees, so the newsletter's introduction and news, the
agenda feeds and the event calendars must tell one story. The texts are read as a reader
reads them (a date near the name of a body); the facts come from the feeds through comms's own
parsers, as of the demo's day (the feeds list coming meetings only, so earlier dates are not
checked). A date after "tot", "vanaf", "verplaatst van" … is a deadline or an old date, no
meeting date.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import icalendar
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from comms.cli import main
from comms.cli.demo import DEMO_NOW
from comms.collect.items import SourceState
from comms.collect.meetings import parse_meeting_source
from comms.collect.source import collect_source
from comms.config import Config, ItemKind, load_config
from comms.dates import local, long_date
from comms.domain import BODIES
from comms.kinds.agenda_notice import KIND as NOTICES
from comms.operations import sources
from comms.operations.audience import import_audience
from comms.service import Service
from comms.store.models import Edition

REPO = Path(__file__).resolve().parents[1]
MONTHS = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]
WEEKDAYS = ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"]
DATE = re.compile(
    rf"(?:(?P<weekday>{'|'.join(WEEKDAYS)}) )?(?P<day>\d{{1,2}}) (?P<month>{'|'.join(MONTHS)})"
    r"(?: (?P<year>\d{4}))?",
    re.IGNORECASE,
)
NOT_A_MEETING = re.compile(
    r"(?:\btot(?: en met)?|\bvanaf|\bper|\buiterlijk|\bsinds|\bverplaatst van)\s+$", re.I
)


@dataclass(frozen=True)
class Gathering:
    """Something that meets, how a text names it, and the days the feeds say it meets."""

    name: str
    pattern: re.Pattern[str]
    days: frozenset[date]


@dataclass(frozen=True)
class Text:
    where: str  # the file, and the item in it
    text: str


def gatherings(config: Config) -> list[Gathering]:
    """The IPO's bodies (from the agenda feeds) and the event series (from their calendars)."""
    meetings: dict[str, set[date]] = {body.id: set() for body in BODIES}
    events: dict[str, set[date]] = {}
    for source in config.sources:
        path = config.resolve(source.url)
        if source.kind is ItemKind.MEETING:
            feed = parse_meeting_source(path.read_bytes(), source, DEMO_NOW)
            for meeting in feed.meetings:
                if not meeting.is_cancelled:
                    meetings[meeting.body].add(local(meeting.starts_at).date())
        elif source.kind is ItemKind.EVENT:
            items = collect_source(source, SourceState(), config.resolve(".")).items
            events[source.name] = {local(i.starts_at).date() for i in items if i.starts_at}
    found = [Gathering(b.name, _named(b.name, b.id), frozenset(meetings[b.id])) for b in BODIES]
    series = {"kennissessies": r"\bkennis(?:sessie|dag)", "technische-briefings": r"\btechnische briefing"}
    found += [
        Gathering(name, re.compile(series[name], re.I), frozenset(days)) for name, days in events.items()
    ]
    return found


def _named(name: str, body_id: str) -> re.Pattern[str]:
    words = re.escape(name).replace(r"\ ", r"\s+")
    return re.compile(rf"\b{words}\b|\bAV\b" if body_id == "av" else rf"\b{words}")


def disagreements(text: Text, known: list[Gathering], today: date) -> list[str]:
    """Each coming date in the text that is no meeting day of what the text names, and each
    weekday that is not the date's."""
    named = [g for g in known if g.pattern.search(text.text)]
    found: list[str] = []
    for match in DATE.finditer(text.text):
        day = _date_of(match, today)
        weekday = match["weekday"]
        if weekday and WEEKDAYS.index(weekday.lower()) != day.weekday():
            found.append(f"{text.where}: '{match[0]}' but {day} is a {WEEKDAYS[day.weekday()]}")
        if not named or day < today or NOT_A_MEETING.search(text.text[: match.start()]):
            continue
        if not any(day in g.days for g in named):
            meets = "; ".join(f"{g.name} on {', '.join(map(str, sorted(g.days))) or '-'}" for g in named)
            found.append(f"{text.where}: '{match[0]}' ({day}) is no meeting day in the feeds ({meets})")
    return found


def _date_of(match: re.Match[str], today: date) -> date:
    """The date; without a year, the one nearest to today."""
    month, day = MONTHS.index(match["month"].lower()) + 1, int(match["day"])
    if match["year"]:
        return date(int(match["year"]), month, day)
    return min((date(today.year + n, month, day) for n in (-1, 0, 1)), key=lambda d: abs(d - today))


# -- reading the sample texts ------------------------------------------------------------


def sample_texts(root: Path) -> Iterator[Text]:
    for path in sorted((root / "sample").rglob("*")):
        name = str(path.relative_to(root))
        if path.suffix == ".md":
            for number, paragraph in enumerate(path.read_text(encoding="utf-8").split("\n\n"), start=1):
                yield Text(f"{name} (paragraph {number})", _plain(paragraph))
        elif path.suffix == ".xml":
            yield from _feed_texts(path, name)
        elif path.suffix == ".ics":
            calendar = icalendar.Calendar.from_ical(path.read_bytes())
            for event in calendar.walk("VEVENT"):
                summary = str(event.get("SUMMARY", ""))
                yield Text(f"{name} ({summary})", _plain(f"{summary}. {event.get('DESCRIPTION', '')}"))


def _feed_texts(path: Path, name: str) -> Iterator[Text]:
    for element in ElementTree.parse(path).iter():
        if element.tag.rsplit("}", 1)[-1] not in ("item", "entry"):
            continue
        title = next((e.text or "" for e in element if e.tag.rsplit("}", 1)[-1] == "title"), "")
        yield Text(f"{name} ({title})", _plain(" ".join(element.itertext())))


def _plain(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


@pytest.fixture(scope="module")
def config() -> Config:
    config, problems = load_config(REPO / "comms.toml")
    assert config, problems
    return config


def test_every_meeting_date_in_the_sample_texts_is_in_the_feeds(config: Config) -> None:
    known = gatherings(config)
    texts = list(sample_texts(REPO))

    assert len(texts) > 60  # every news item, meeting and event, and the introduction
    assert [problem for text in texts for problem in disagreements(text, known, DEMO_NOW.date())] == []
    assert any("Algemene Vergadering" in t.text and "16 december" in t.text for t in texts)


def test_the_introduction_names_the_av_date_of_the_agenda_feed(config: Config) -> None:
    [av] = [g for g in gatherings(config) if g.name == "Algemene Vergadering"]
    first = min(av.days)
    introduction = (REPO / "sample" / "content" / "newsletter" / "2026-12.md").read_text(encoding="utf-8")

    assert first == date(2026, 12, 16)
    assert long_date(first).removesuffix(f" {first.year}") in introduction  # "woensdag 16 december"


CALENDAR = [
    Gathering("Algemene Vergadering", _named("Algemene Vergadering", "av"), frozenset({date(2026, 12, 16)})),
    Gathering("BAC Landelijk Gebied", _named("BAC Landelijk Gebied", "x"), frozenset({date(2026, 12, 9)})),
    Gathering("technische-briefings", re.compile(r"\btechnische briefing", re.I), frozenset()),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Op woensdag 16 december komt de Algemene Vergadering bijeen.", []),
        (
            "Op vrijdag 4 december komt de Algemene Vergadering bijeen.",
            [
                "news.xml (x): 'vrijdag 4 december' (2026-12-04) is no meeting day in the feeds "
                "(Algemene Vergadering on 2026-12-16)"
            ],
        ),
        (
            "Op dinsdag 16 december vergadert de AV.",
            ["news.xml (x): 'dinsdag 16 december' but 2026-12-16 is a woensdag"],
        ),
        ("De AV kan amendementen indienen tot 9 december.", []),  # a deadline
        ("De BAC Landelijk Gebied is verplaatst van vrijdag 4 december naar woensdag 9 december.", []),
        (
            "Technische briefing bij de agenda van de BAC Landelijk Gebied van 10 december 2026.",
            [
                "news.xml (x): '10 december 2026' (2026-12-10) is no meeting day in the feeds "
                "(BAC Landelijk Gebied on 2026-12-09; technische-briefings on -)"
            ],
        ),
        ("Het congres van de Algemene Vergadering was op 20 november.", []),  # before the demo's day
        ("De stikstofbank gaat op 7 december open.", []),  # names no meeting
    ],
)
def test_a_text_that_disagrees_with_the_feeds_is_named_with_its_date(text: str, expected: list[str]) -> None:
    assert disagreements(Text("news.xml (x)", text), CALENDAR, date(2026, 12, 1)) == expected


# -- the demo's newsletter against the agenda notices -------------------------------------


@pytest.mark.slow
def test_the_demo_newsletter_names_the_meeting_days_the_notices_announce(project: Path) -> None:
    outbox = project / "outbox"
    demo = CliRunner().invoke(
        main, ["--config", str(project / "comms.toml"), "demo", "--outbox", str(outbox)]
    )
    assert demo.exit_code == 0, demo.output
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    announced = notice_days(config)
    texts = newsletter_texts(outbox / "nieuwsbrief-2026-12" / "messages")

    assert min(announced["Algemene Vergadering"]) == date(2026, 12, 16)
    known = [
        Gathering(g.name, g.pattern, frozenset(announced.get(g.name, g.days))) for g in gatherings(config)
    ]
    assert [problem for text in texts for problem in disagreements(text, known, DEMO_NOW.date())] == []
    assert any("Algemene Vergadering" in t.text and "16 december" in t.text for t in texts)


def notice_days(config: Config) -> dict[str, set[date]]:
    """The meeting day of every agenda notice the sample data gives on the demo's day, per body."""
    service = Service.open(config)
    try:
        import_audience(service, DEMO_NOW)
        sources.collect(service, DEMO_NOW)
        NOTICES.build_due(service, DEMO_NOW)
        with service.db.session() as session:
            subjects = session.scalars(select(Edition.subject).where(Edition.kind == NOTICES.key)).all()
    finally:
        service.db.dispose()
    days: dict[str, set[date]] = {}
    for subject in subjects:  # "Agenda Algemene Vergadering, woensdag 16 december 2026 – voor GS …"
        body, _, when = subject.removeprefix("Spoed: ").removeprefix("Agenda ").partition(", ")
        match = DATE.search(when)
        assert match, subject
        days.setdefault(body, set()).add(_date_of(match, DEMO_NOW.date()))
    return days


def newsletter_texts(messages: Path) -> list[Text]:
    """Each item of every variant's text part (an item with its title, date line and text)."""
    found: dict[str, Text] = {}
    for path in sorted(messages.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(("plain",))
        assert body is not None
        for block in re.split(r"\n(?=\* )|\n\n(?=[^a-z\n]+\n-+\n)", body.get_content()):
            found.setdefault(block, Text(f"{path.name} ({block.strip().splitlines()[0]})", _plain(block)))
    return list(found.values())
