from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from comms.audience.gs_calendar import (
    GS_CALENDAR_FILE,
    GsCalendar,
    check_gs_calendar,
    load_gs_calendar,
)
from comms.dates import local
from comms.domain import PROVINCES
from comms.problems import Severity

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / GS_CALENDAR_FILE
# Every province but Utrecht as an empty table: tests write Utrecht's own.
OTHERS = "\n".join(f'[provinces."{p.name}"]' for p in PROVINCES if p.name != "Utrecht")
DEFAULT = """
[default]
weekday = "dinsdag"
time = "10:00"
agenda_closes_days_before = 7
agenda_closes_at = "12:00"
"""


def write(tmp_path: Path, text: str, others: bool = True) -> Path:
    path = tmp_path / "gs-calendar.toml"
    path.write_text(textwrap.dedent(text) + ("\n" + OTHERS if others else ""), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> GsCalendar:
    calendar, problems = load_gs_calendar(write(tmp_path, text))
    assert problems == []
    assert calendar is not None
    return calendar


def wall(moment: datetime) -> str:
    return f"{local(moment):%a %Y-%m-%d %H:%M}"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_shipped_calendar_has_every_province_and_no_problems() -> None:
    calendar, problems = load_gs_calendar(SHIPPED)
    assert [str(p) for p in problems] == []
    assert calendar is not None
    assert calendar.provinces == tuple(p.name for p in PROVINCES)
    assert check_gs_calendar(ROOT) == []


@pytest.mark.parametrize(
    ("province", "start", "end", "expected"),
    [
        pytest.param(
            "Utrecht",
            utc(2026, 12, 14),
            utc(2027, 1, 13),
            [
                ("Tue 2026-12-15 10:00", "Tue 2026-12-08 12:00", None),
                ("Tue 2026-12-22 10:00", "Tue 2026-12-15 12:00", None),
                ("Tue 2027-01-05 10:00", "Tue 2026-12-29 12:00", None),
                ("Thu 2027-01-07 14:00", "Thu 2026-12-31 12:00", "extra vergadering"),
                ("Tue 2027-01-12 10:00", "Tue 2027-01-05 12:00", None),
            ],
            id="Utrecht skips 29 December and adds an extra meeting",
        ),
        pytest.param(
            "Flevoland",
            utc(2027, 3, 20),
            utc(2027, 4, 6),
            [
                ("Mon 2027-03-22 13:30", "Tue 2027-03-16 17:00", None),
                (
                    "Tue 2027-03-30 13:30",
                    "Wed 2027-03-24 17:00",
                    "GS-vergadering verplaatst vanwege Tweede Paasdag",
                ),
                ("Mon 2027-04-05 13:30", "Tue 2027-03-30 17:00", None),
            ],
            id="Flevoland meets on Monday, Tuesday after Easter",
        ),
        pytest.param(
            "drenthe",
            utc(2027, 7, 5),
            utc(2027, 8, 25),
            [
                ("Tue 2027-07-06 09:00", "Mon 2027-06-28 10:00", None),
                ("Tue 2027-07-13 09:00", "Mon 2027-07-05 10:00", None),
                ("Tue 2027-08-17 09:00", "Mon 2027-08-09 10:00", None),
                ("Tue 2027-08-24 09:00", "Mon 2027-08-16 10:00", None),
            ],
            id="Drenthe: summer recess, agenda closes 8 days before (any spelling)",
        ),
    ],
)
def test_meetings_of_the_shipped_calendar(
    province: str, start: datetime, end: datetime, expected: list[tuple[str, str, str | None]]
) -> None:
    calendar, _ = load_gs_calendar(SHIPPED)
    assert calendar is not None
    meetings = calendar.meetings(province, start, end)
    assert [(wall(m.at), wall(m.agenda_closes_at), m.note) for m in meetings] == expected
    assert all(m.is_extra == (m.note is not None) for m in meetings)


@pytest.mark.parametrize(
    ("day", "hour_utc"),
    [
        pytest.param(utc(2027, 3, 23), 9, id="winter time: 10:00 CET is 09:00 UTC"),
        pytest.param(utc(2027, 3, 30), 8, id="summer time: 10:00 CEST is 08:00 UTC"),
        pytest.param(utc(2027, 11, 2), 9, id="back to winter time (31 October)"),
    ],
)
def test_a_meeting_keeps_its_wall_clock_time_across_summer_time(
    tmp_path: Path, day: datetime, hour_utc: int
) -> None:
    calendar = load(tmp_path, DEFAULT + "[provinces.Utrecht]\n")
    [meeting] = calendar.meetings("Utrecht", day, day.replace(hour=23))
    assert meeting.at == day.replace(hour=hour_utc)
    assert meeting.at.tzinfo is UTC and f"{local(meeting.at):%H:%M}" == "10:00"


@pytest.mark.parametrize(
    ("table", "first"),
    [
        pytest.param('weekday = "Monday"', "Mon 2027-01-04 10:00", id="English weekday"),
        pytest.param('weekday = "wo"', "Wed 2027-01-06 10:00", id="Dutch abbreviation"),
        pytest.param('time = "9.30"', "Tue 2027-01-05 09:30", id="Dutch time notation"),
        pytest.param("time = 14:15:00", "Tue 2027-01-05 14:15", id="TOML time"),
        pytest.param("", "Tue 2027-01-05 10:00", id="empty table uses the default"),
    ],
)
def test_a_province_overrides_the_default(tmp_path: Path, table: str, first: str) -> None:
    calendar = load(tmp_path, DEFAULT + f"[provinces.Utrecht]\n{table}\n")
    meetings = calendar.meetings("Utrecht", utc(2027, 1, 4), utc(2027, 1, 11))
    assert wall(meetings[0].at) == first


def test_a_missing_province_is_reported_and_unknown_to_the_calendar(tmp_path: Path) -> None:
    path = write(tmp_path, DEFAULT)
    calendar, problems = load_gs_calendar(path)
    assert calendar is not None
    assert [str(p) for p in problems] == [
        f"{path} [Utrecht]: province Utrecht is missing: add a table [provinces.Utrecht] "
        "(an empty one uses [default]); no agenda notices can be planned for it"
    ]
    assert not calendar.knows("Utrecht")
    assert calendar.knows("friesland")
    assert "Utrecht" not in calendar.provinces
    with pytest.raises(ValueError, match="Utrecht"):
        calendar.meetings("Utrecht", utc(2027, 1, 1), utc(2027, 2, 1))


@pytest.mark.parametrize(
    ("utrecht", "line", "reason"),
    [
        pytest.param(
            'weekday = "dinsdagg"',
            2,
            '[provinces.Utrecht] weekday must be a day like "dinsdag" or "tuesday", not \'dinsdagg\'',
            id="bad weekday",
        ),
        pytest.param(
            'time = "25:00"',
            2,
            "[provinces.Utrecht] time must be a time like \"10:00\", not '25:00'",
            id="bad time",
        ),
        pytest.param(
            "agenda_closes_days_before = -1",
            2,
            "[provinces.Utrecht] agenda_closes_days_before must be a whole number of days from 0 to 28, "
            "not -1",
            id="negative lead",
        ),
        pytest.param(
            'agenda_closes_days_before = 0\nagenda_closes_at = "11:00"',
            3,
            "[provinces.Utrecht] the agenda must close before the meeting: "
            "agenda_closes_at is not before time",
            id="agenda closes after the meeting",
        ),
        pytest.param(
            'weekdag = "dinsdag"',
            2,
            "[provinces.Utrecht] unknown key 'weekdag'; known: weekday, time, agenda_closes_days_before, "
            "agenda_closes_at, skip, recess, extra, closed",
            id="unknown key",
        ),
        pytest.param(
            'closed = [\n  2026-12-24,\n  "31-12-2026",\n]',
            4,
            "[provinces.Utrecht] closed: '31-12-2026' is not a date like 2026-12-24",
            id="a closed day not ISO",
        ),
        pytest.param(
            "closed = 2026-12-24",
            2,
            "[provinces.Utrecht] closed must be a list of dates, like closed = [2026-12-24, 2026-12-31]",
            id="closed not a list",
        ),
        pytest.param(
            'recess = [\n  { from = 2027-08-20, until = 2027-07-12, reason = "zomerreces" },\n]',
            3,
            "[provinces.Utrecht] recess: from 2027-08-20 is after until 2027-07-12",
            id="recess the wrong way round",
        ),
        pytest.param(
            "skip = [{ datum = 2026-12-29 }]",
            2,
            "[provinces.Utrecht] skip: unknown key 'datum' in an entry; known: date, reason",
            id="unknown key in an entry",
        ),
        pytest.param(
            'skip = [{ date = "29-12-2026" }]',
            2,
            "[provinces.Utrecht] skip: date must be a date like 2026-12-29, not '29-12-2026'",
            id="date not ISO",
        ),
        pytest.param(
            'extra = [{ date = 2027-01-07, time = "2 uur" }]',
            2,
            "[provinces.Utrecht] extra: time must be a time like \"14:00\", not '2 uur'",
            id="bad time of an extra meeting",
        ),
        pytest.param(
            "skip = 2026-12-29",
            2,
            "[provinces.Utrecht] skip must be a list of { … } entries, like skip = [{ date = 2026-12-29, "
            'reason = "kerstreces" }]',
            id="skip not a list",
        ),
    ],
)
def test_an_error_leaves_only_that_province_out(tmp_path: Path, utrecht: str, line: int, reason: str) -> None:
    path = write(tmp_path, f"[provinces.Utrecht]\n{utrecht}\n")
    calendar, problems = load_gs_calendar(path)
    assert [str(p) for p in problems] == [f"{path}, line {line} [Utrecht]: {reason}"]
    assert calendar is not None
    assert not calendar.knows("Utrecht")
    assert len(calendar.provinces) == 11


@pytest.mark.parametrize(
    ("text", "line", "reason", "subject"),
    [
        pytest.param(
            "[provinces.Utrecht]\n[provinces.Frieslandd]\n",
            2,
            "[provinces.Frieslandd] unknown province 'Frieslandd'; known: "
            + ", ".join(p.name for p in PROVINCES),
            "Frieslandd",
            id="unknown province",
        ),
        pytest.param(
            "[provinces.Utrecht]\n[provinces.utrecht]\n",
            2,
            "[provinces.utrecht] is Utrecht again, after [provinces.Utrecht]",
            "Utrecht",
            id="the same province twice",
        ),
        pytest.param(
            "timezone = 'UTC'\n[provinces.Utrecht]\n",
            1,
            "unknown key 'timezone' (expected [default] and [provinces.NAME] tables)",
            None,
            id="unknown top-level key",
        ),
    ],
)
def test_file_level_errors_name_the_line(
    tmp_path: Path, text: str, line: int, reason: str, subject: str | None
) -> None:
    path = write(tmp_path, text)
    calendar, problems = load_gs_calendar(path)
    assert [(p.line, p.reason, p.subject, p.severity) for p in problems] == [
        (line, reason, subject, Severity.ERROR)
    ]
    assert calendar is not None and calendar.knows("Utrecht")


@pytest.mark.parametrize(
    ("utrecht", "line", "reason"),
    [
        pytest.param(
            "skip = [\n  { date = 2026-12-22 },\n  { date = 2026-12-30, reason = 'kerst' },\n]",
            4,
            "[provinces.Utrecht] skip: 2026-12-30 is a Wednesday, not a GS meeting day "
            "(GS Utrecht meets on Tuesday); nothing is skipped",
            id="skip on a day without a meeting",
        ),
        pytest.param(
            "extra = [{ date = 2027-01-05, time = '14:00' }]",
            2,
            "[provinces.Utrecht] extra: GS Utrecht already meets on Tuesday 2027-01-05; "
            "skip the regular meeting if the extra one replaces it",
            id="extra on a regular meeting day",
        ),
    ],
)
def test_a_doubtful_exception_is_a_warning_and_the_province_stays(
    tmp_path: Path, utrecht: str, line: int, reason: str
) -> None:
    path = write(tmp_path, f"[provinces.Utrecht]\n{utrecht}\n")
    calendar, problems = load_gs_calendar(path)
    assert [(p.line, p.reason, p.severity) for p in problems] == [(line, reason, Severity.WARNING)]
    assert calendar is not None and calendar.knows("Utrecht")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            '[default]\nweekday = "tuesdayy"\n',
            '[default] weekday must be a day like "dinsdag" or "tuesday", not \'tuesdayy\'',
            id="bad default",
        ),
        pytest.param(
            "[default]\nrecess = []\n",
            "[default] unknown key 'recess' (skip, recess and extra belong in a [provinces.NAME] table); "
            "known: weekday, time, agenda_closes_days_before, agenda_closes_at, closed",
            id="exceptions in the default",
        ),
    ],
)
def test_a_bad_default_gives_no_calendar(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path, text)
    calendar, problems = load_gs_calendar(path)
    assert calendar is None
    assert [(p.line, p.reason) for p in problems] == [(2, reason)]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(None, "file not found", id="missing file"),
        pytest.param("[default\n", "not valid TOML", id="not TOML"),
    ],
)
def test_an_unreadable_file_gives_no_calendar(tmp_path: Path, content: str | None, reason: str) -> None:
    path = tmp_path / "audiences" / "gs-calendar.toml"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content, encoding="utf-8")
    calendar, problems = load_gs_calendar(path)
    assert calendar is None
    [problem] = check_gs_calendar(tmp_path)
    assert problems == [problem]
    assert problem.where == str(path) and problem.reason.startswith(reason)


def test_a_skip_and_a_recess_remove_meetings_and_an_extra_adds_one(tmp_path: Path) -> None:
    calendar = load(
        tmp_path,
        DEFAULT
        + """
        [provinces.Utrecht]
        skip = [{ date = 2027-04-27, reason = "Koningsdag" }]
        recess = [{ from = 2027-05-10, until = 2027-05-23 }]
        extra = [{ date = 2027-04-28, agenda_closes_days_before = 2, reason = "Koningsdag" }]
        """,
    )
    meetings = calendar.meetings("Utrecht", utc(2027, 4, 19), utc(2027, 5, 31))
    assert [(wall(m.at), wall(m.agenda_closes_at), m.is_extra) for m in meetings] == [
        ("Tue 2027-04-20 10:00", "Tue 2027-04-13 12:00", False),
        ("Wed 2027-04-28 10:00", "Mon 2027-04-26 12:00", True),
        ("Tue 2027-05-04 10:00", "Tue 2027-04-27 12:00", False),
        ("Tue 2027-05-25 10:00", "Tue 2027-05-18 12:00", False),
    ]
    assert meetings[0].takes_items_at(utc(2027, 4, 13, 9, 59))
    assert not meetings[0].takes_items_at(utc(2027, 4, 13, 10, 0))  # 12:00 CEST


def test_closed_days_of_the_default_and_of_a_province_add_up(tmp_path: Path) -> None:
    calendar = load(
        tmp_path,
        DEFAULT.replace("[default]", "[default]\nclosed = [2026-12-31]")
        + "[provinces.Utrecht]\nclosed = [2026-12-24]\n",
    )
    assert calendar.closed_days("Utrecht") == {date(2026, 12, 24), date(2026, 12, 31)}
    assert calendar.closed_days("Zeeland") == {date(2026, 12, 31)}
