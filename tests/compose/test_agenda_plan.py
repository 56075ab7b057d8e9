from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from comms.audience.gs_calendar import GsCalendar, load_gs_calendar
from comms.compose.agenda_plan import Lead, NoticePlan, plan_notice
from comms.dates import AMSTERDAM, local
from comms.domain import PROVINCES
from comms.problems import Problem, Severity

# Utrecht: Tuesday 10:00, agenda closes 7 days before at 12:00. Notices: 2 working days before, 09:00.
DEFAULT = """
[default]
weekday = "dinsdag"
time = "10:00"
agenda_closes_days_before = 7
agenda_closes_at = "12:00"
"""


def make_calendar(tmp_path: Path, utrecht: str = "", default: str = DEFAULT) -> GsCalendar:
    others = "\n".join(f'[provinces."{p.name}"]' for p in PROVINCES if p.name != "Utrecht")
    path = tmp_path / "gs-calendar.toml"
    path.write_text(f"{default}\n[provinces.Utrecht]\n{utrecht}\n{others}\n", encoding="utf-8")
    calendar, problems = load_gs_calendar(path)
    assert problems == []
    assert calendar is not None
    return calendar


def at(text: str) -> datetime:
    """'2027-01-21 10:00' in Dutch time, as aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=AMSTERDAM).astimezone(UTC)


def wall(moment: datetime | None) -> str | None:
    return f"{local(moment):%a %Y-%m-%d %H:%M}" if moment else None


def plan(calendar: GsCalendar, ipo: str, now: str, **options: object) -> NoticePlan:
    result = plan_notice("Utrecht", at(ipo), calendar, at(now), **options)  # type: ignore[arg-type]
    assert isinstance(result, NoticePlan), result
    return result


@pytest.mark.parametrize(
    ("ipo", "now", "send", "gs"),
    [
        pytest.param(
            "2027-02-18 10:00",
            "2026-12-01 12:00",
            "Fri 2027-02-05 09:00",
            "Tue 2027-02-16 10:00",
            id="2 working days before the agenda of the last GS meeting closes",
        ),
        pytest.param(
            "2027-02-16 14:00",
            "2026-12-01 12:00",
            "Fri 2027-01-29 09:00",
            "Tue 2027-02-09 10:00",
            id="a GS meeting on the day of the IPO meeting is not ahead of it",
        ),
        pytest.param(
            "2027-02-18 10:00",
            "2027-02-08 11:30",
            "Mon 2027-02-08 11:30",
            "Tue 2027-02-16 10:00",
            id="the planned moment has passed: at once, still in time",
        ),
        pytest.param(
            "2027-02-18 10:00",
            "2027-02-06 20:00",
            "Mon 2027-02-08 08:00",
            "Tue 2027-02-16 10:00",
            id="on a Saturday evening: the first working hour",
        ),
        pytest.param(
            "2027-02-18 10:00",
            "2027-02-08 19:00",
            "Tue 2027-02-09 08:00",
            "Tue 2027-02-16 10:00",
            id="after working hours: next morning, before the agenda closes at noon",
        ),
        pytest.param(
            "2027-04-08 10:00",
            "2027-03-01 12:00",
            "Thu 2027-03-25 09:00",
            "Tue 2027-04-06 10:00",
            # The agenda closes Tue 30 March: Tweede Paasdag (29th) is no working day, Goede Vrijdag is.
            id="send in winter time, GS meeting in summer time",
        ),
        pytest.param(
            "2027-04-15 10:00",
            "2027-03-01 12:00",
            "Fri 2027-04-02 09:00",
            "Tue 2027-04-13 10:00",
            id="summer time: still 09:00 by the clock",
        ),
    ],
)
def test_a_notice_is_planned_before_the_gs_agenda_closes(
    tmp_path: Path, ipo: str, now: str, send: str, gs: str
) -> None:
    result = plan(make_calendar(tmp_path), ipo, now)
    assert (wall(result.send_at), wall(result.gs_meeting.at if result.gs_meeting else None)) == (send, gs)
    assert not result.is_urgent and result.missed is None and result.reaches_agenda
    assert result.gs_meeting and result.send_at < result.gs_meeting.agenda_closes_at
    assert result.send_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("utrecht", "send", "gs"),
    [
        pytest.param("", "Fri 2027-02-05 09:00", "Tue 2027-02-16 10:00", id="no exception"),
        pytest.param(
            "skip = [{ date = 2027-02-16 }]",
            "Fri 2027-01-29 09:00",
            "Tue 2027-02-09 10:00",
            id="a skipped meeting falls back to the one before",
        ),
        pytest.param(
            "recess = [{ from = 2027-02-08, until = 2027-02-17 }]",
            "Fri 2027-01-22 09:00",
            "Tue 2027-02-02 10:00",
            id="a recess falls back to the meeting before it",
        ),
        pytest.param(
            "extra = [{ date = 2027-02-17, time = '14:00', agenda_closes_days_before = 1 }]",
            "Fri 2027-02-12 09:00",
            "Wed 2027-02-17 14:00",
            id="an extra meeting counts",
        ),
    ],
)
def test_exceptions_change_the_gs_meeting(tmp_path: Path, utrecht: str, send: str, gs: str) -> None:
    result = plan(make_calendar(tmp_path, utrecht), "2027-02-18 10:00", "2026-12-01 12:00")
    assert (wall(result.send_at), wall(result.gs_meeting.at if result.gs_meeting else None)) == (send, gs)


@pytest.mark.parametrize(
    ("lead", "send"),
    [
        pytest.param(Lead(working_days=1), "Mon 2027-02-08 09:00", id="1 working day"),
        pytest.param(Lead(working_days=0, at=time(11, 0)), "Tue 2027-02-09 11:00", id="the same day"),
        pytest.param(Lead(working_days=0, at=time(13, 0)), "Mon 2027-02-08 13:00", id="same day is too late"),
        pytest.param(
            Lead(working_days=2, at=time(7, 0)),
            "Thu 2027-02-04 17:59",
            id="before working hours: the last minute of the working day before",
        ),
    ],
)
def test_the_lead_is_configurable(tmp_path: Path, lead: Lead, send: str) -> None:
    result = plan(make_calendar(tmp_path), "2027-02-18 10:00", "2026-12-01 12:00", lead=lead)
    assert wall(result.send_at) == send


@pytest.mark.parametrize(
    ("ipo", "now", "gs", "missed", "tail"),
    [
        pytest.param(
            "2027-02-18 10:00",
            "2027-02-10 10:00",
            "Tue 2027-02-16 10:00",
            "Tue 2027-02-16 10:00",
            "; that meeting still comes before the IPO meeting",
            id="agenda closed, the GS meeting still ahead",
        ),
        pytest.param(
            "2027-02-18 10:00",
            "2027-02-17 22:00",
            None,
            "Tue 2027-02-16 10:00",
            "; the IPO meeting comes before the next GS meeting",
            id="the IPO meeting comes before the next GS meeting",
        ),
    ],
)
def test_published_too_late_is_urgent_and_goes_at_once(
    tmp_path: Path, ipo: str, now: str, gs: str | None, missed: str, tail: str
) -> None:
    result = plan(make_calendar(tmp_path), ipo, now)
    assert result.is_urgent and not result.reaches_agenda
    assert result.send_at == at(now)
    assert (
        wall(result.gs_meeting.at if result.gs_meeting else None),
        wall(result.missed and result.missed.at),
    ) == (
        gs,
        missed,
    )
    assert result.reason == (
        "urgent, at once: the agenda of GS Utrecht for its meeting of Tue 2027-02-16 10:00 CET "
        "closed on Tue 2027-02-09 12:00 CET" + tail
    )


def test_the_reason_says_what_the_plan_is_based_on(tmp_path: Path) -> None:
    result = plan(make_calendar(tmp_path), "2027-02-18 10:00", "2027-02-06 20:00")
    assert result.reason == (
        "2 working days at 09:00 before the agenda of GS Utrecht closes on Tue 2027-02-09 12:00 CET, "
        "for the GS meeting of Tue 2027-02-16 10:00 CET; that moment has passed, so at once; "
        "moved into working hours (mon-fri 08:00-18:00) to Mon 2027-02-08 08:00 CET"
    )


def test_without_a_gs_meeting_in_the_look_back_it_goes_at_once(tmp_path: Path) -> None:
    calendar = make_calendar(tmp_path, "recess = [{ from = 2027-06-01, until = 2027-08-31 }]")
    result = plan(calendar, "2027-08-19 10:00", "2027-06-15 12:00")
    assert (result.send_at, result.gs_meeting, result.missed, result.is_urgent) == (
        at("2027-06-15 12:00"),
        None,
        None,
        False,
    )
    assert result.reason == (
        "GS Utrecht has no meeting in the 10 weeks before the IPO meeting of Thu 2027-08-19 10:00 CEST: "
        "sent at once"
    )


@pytest.mark.parametrize(
    ("province", "ipo", "severity", "reason"),
    [
        pytest.param(
            "Utrecht",
            "2027-02-01 10:00",
            Severity.WARNING,
            "the IPO meeting of Mon 2027-02-01 10:00 CET has begun already: no notice",
            id="meeting in the past",
        ),
        pytest.param(
            "Frieslandd",
            "2027-03-01 10:00",
            Severity.ERROR,
            "province Frieslandd is not in the GS calendar {path} (missing, or its table has an error: "
            "run comms check)",
            id="unknown province",
        ),
    ],
)
def test_no_plan_is_a_problem(
    tmp_path: Path, province: str, ipo: str, severity: Severity, reason: str
) -> None:
    calendar = make_calendar(tmp_path)
    result = plan_notice(province, at(ipo), calendar, at("2027-02-10 12:00"))
    assert isinstance(result, Problem)
    assert (result.where, result.severity, result.reason) == (
        calendar.where,
        severity,
        reason.format(path=calendar.where),
    )


def test_a_province_missing_from_the_calendar_is_a_problem_for_that_province_only(tmp_path: Path) -> None:
    path = tmp_path / "gs-calendar.toml"
    path.write_text(DEFAULT + "[provinces.Utrecht]\n", encoding="utf-8")
    calendar, _ = load_gs_calendar(path)
    assert calendar is not None
    results = {
        p.name: plan_notice(p.name, at("2027-03-04 10:00"), calendar, at("2027-02-01 12:00"))
        for p in PROVINCES
    }
    assert [name for name, r in results.items() if isinstance(r, NoticePlan)] == ["Utrecht"]
    assert all(
        isinstance(r, Problem) and r.subject == name for name, r in results.items() if name != "Utrecht"
    )


# Holidays and closed days: (IPO meeting, now, Utrecht's table, [default] additions, planned send
# before, planned send now). "Before" is what the planner did when only weekends were days off.
HOLIDAYS = [
    pytest.param(
        "2027-01-07 10:00",
        "2026-12-01 12:00",
        "",
        "",
        "Fri 2026-12-25 09:00",
        "Thu 2026-12-24 09:00",
        id="Eerste Kerstdag: the working day before",
    ),
    pytest.param(
        "2026-01-08 10:00",
        "2025-12-01 12:00",
        "",
        "",
        "Fri 2025-12-26 09:00",
        "Wed 2025-12-24 09:00",
        id="Eerste and Tweede Kerstdag on Thursday and Friday",
    ),
    pytest.param(
        "2027-01-07 10:00",
        "2026-12-01 12:00",
        "closed = [2026-12-24]",
        "",
        "Fri 2026-12-25 09:00",
        "Wed 2026-12-23 09:00",
        id="a closed day of the province, after Christmas",
    ),
    pytest.param(
        "2027-01-07 10:00",
        "2026-12-01 12:00",
        "",
        "closed = [2026-12-24]",
        "Fri 2026-12-25 09:00",
        "Wed 2026-12-23 09:00",
        id="a closed day of every province ([default])",
    ),
    pytest.param(
        "2027-01-14 10:00",
        "2026-12-01 12:00",
        "",
        "",
        "Fri 2027-01-01 09:00",
        "Thu 2026-12-31 09:00",
        id="Nieuwjaarsdag",
    ),
    pytest.param(
        "2027-01-07 10:00",
        "2026-12-24 19:00",
        "",
        "",
        "Fri 2026-12-25 09:00",
        "Mon 2026-12-28 08:00",
        id="late on Christmas Eve: the next working day, not Christmas morning",
    ),
    pytest.param(
        "2027-05-06 10:00",
        "2027-03-01 12:00",
        "agenda_closes_days_before = 6",
        "",
        "Mon 2027-04-26 09:00",
        "Fri 2027-04-23 09:00",
        id="Koningsdag on Tuesday 27 April 2027",
    ),
    pytest.param(
        "2025-05-08 10:00",
        "2025-03-01 12:00",
        "agenda_closes_days_before = 6",
        "",
        "Mon 2025-04-28 09:00",
        "Mon 2025-04-28 09:00",
        id="27 April 2025 is a Sunday: Koningsdag is Saturday 26 April, Monday works",
    ),
    pytest.param(
        "2027-05-20 10:00",
        "2027-03-01 12:00",
        "agenda_closes_days_before = 8",
        "",
        "Thu 2027-05-06 09:00",
        "Tue 2027-05-04 09:00",
        id="Hemelvaartsdag and Bevrijdingsdag",
    ),
    pytest.param(
        "2027-05-27 10:00",
        "2027-03-01 12:00",
        "",
        "",
        "Fri 2027-05-14 09:00",
        "Thu 2027-05-13 09:00",
        id="Tweede Pinksterdag",
    ),
]


@pytest.mark.parametrize(("ipo", "now", "utrecht", "default", "before", "send"), HOLIDAYS)
def test_public_holidays_and_closed_days_are_no_working_days(
    tmp_path: Path, ipo: str, now: str, utrecht: str, default: str, before: str, send: str
) -> None:
    calendar = make_calendar(tmp_path, utrecht, DEFAULT.replace("[default]", f"[default]\n{default}"))
    result = plan(calendar, ipo, now)
    assert wall(result.send_at) == send
    assert result.gs_meeting and result.send_at < result.gs_meeting.agenda_closes_at
    del before  # for the reader: what the planner chose when only weekends were days off


def test_the_reason_names_the_days_skipped(tmp_path: Path) -> None:
    result = plan(make_calendar(tmp_path, "closed = [2026-12-24]"), "2027-01-07 10:00", "2026-12-01 12:00")
    assert result.reason == (
        "2 working days at 09:00 before the agenda of GS Utrecht closes on Tue 2026-12-29 12:00 CET, "
        "for the GS meeting of Tue 2027-01-05 10:00 CET; skipped 2026-12-24 (closed), "
        "2026-12-25 (Eerste kerstdag)"
    )
