"""schedules/*.toml: reading, the checks for `comms check`, and run times across summer time."""

from __future__ import annotations

import dataclasses
import pickle
import time as timer
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from comms.dates import AMSTERDAM, local_text
from comms.schedules import (
    Schedule,
    WallClockCronTrigger,
    load_schedules,
    normalise_cron,
)
from comms.send_window import SendWindow, parse_days

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2027, 1, 1, 12, tzinfo=UTC)  # a Friday
SEGMENTS = {"statenleden", "gs", "griffies", "evaluatie"}
TEMPLATES = {"newsletter", "agenda-notice", "agenda-digest", "survey-invitation"}

VALID = """\
kind = "newsletter"
audience = "statenleden"
template = "newsletter"

[build]
cron = "0 7 22-28 * mon"
stale_after_hours = 24

[approval]
required = true
deadline_hours = 48
notify = ["redactie@ipo.example.org"]

[send]
cron = "0 9 1-7 * thu"
stale_after_hours = 2

[send.window]
days = "mon-fri"
hours = "08:00-18:00"
"""


def write(directory: Path, text: str, name: str = "newsletter") -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(directory: Path, now: datetime = NOW) -> tuple[list[Schedule], list]:
    return load_schedules(directory, SEGMENTS, TEMPLATES, now)


@pytest.fixture
def valid(tmp_path: Path) -> Schedule:
    write(tmp_path / "schedules", VALID)
    schedules, problems = load(tmp_path / "schedules")
    assert problems == []
    return schedules[0]


def with_cron(schedule: Schedule, cron: str) -> Schedule:
    return dataclasses.replace(schedule, build_cron=normalise_cron(cron), send_cron=normalise_cron(cron))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- run times and summer time ------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected_utc"),
    [
        # into summer time (Sunday 2027-03-28): 09:00 CET is 08:00 UTC, 09:00 CEST is 07:00 UTC
        (utc(2027, 3, 26, 12), [utc(2027, 3, 27, 8), utc(2027, 3, 28, 7), utc(2027, 3, 29, 7)]),
        # back to winter time (Sunday 2027-10-31)
        (utc(2027, 10, 29, 12), [utc(2027, 10, 30, 7), utc(2027, 10, 31, 8), utc(2027, 11, 1, 8)]),
    ],
)
def test_a_daily_job_keeps_its_local_time_across_summer_time(
    valid: Schedule, after: datetime, expected_utc: list[datetime]
) -> None:
    runs = with_cron(valid, "0 9 * * *").next_runs("send", after, 3)

    assert runs == expected_utc
    assert all(run.tzinfo is UTC for run in runs)
    assert [run.astimezone(AMSTERDAM).time() for run in runs] == [time(9)] * 3


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # 02:30 does not exist on 2027-03-28 (02:00 CET jumps to 03:00 CEST): the job runs at
        # the same moment one hour later by the clock, 03:30 CEST, once.
        (utc(2027, 3, 27), ["2027-03-27 02:30 CET", "2027-03-28 03:30 CEST", "2027-03-29 02:30 CEST"]),
        # 02:30 happens twice on 2027-10-31 (03:00 CEST goes back to 02:00 CET): the job runs at
        # the first, 02:30 CEST, and not again at 02:30 CET (APScheduler 3 alone would run it twice).
        (utc(2027, 10, 30), ["2027-10-30 02:30 CEST", "2027-10-31 02:30 CEST", "2027-11-01 02:30 CET"]),
    ],
)
def test_a_time_in_the_changing_hour_runs_once_that_day(
    valid: Schedule, after: datetime, expected: list[str]
) -> None:
    runs = with_cron(valid, "30 2 * * *").next_runs("build", after, 3)

    assert [local_text(run) for run in runs] == expected
    assert len({run.astimezone(AMSTERDAM).date() for run in runs}) == 3


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("30 2 * * *", ["02:30 CEST"]),
        ("*/30 2 * * *", ["02:00 CEST", "02:30 CEST"]),
        # hourly: 02:00 CET is skipped, so two hours pass between 02:00 CEST and 03:00 CET
        ("0 * * * *", ["00:00 CEST", "01:00 CEST", "02:00 CEST", "03:00 CET", "04:00 CET", "05:00 CET"]),
    ],
)
def test_the_trigger_runs_each_wall_clock_time_once_when_the_clock_goes_back(
    valid: Schedule, cron: str, expected: list[str]
) -> None:
    """As APScheduler calls it: the previous fire time in, the next one out."""
    trigger = with_cron(valid, cron).trigger("send")
    fire, fires = trigger.get_next_fire_time(None, utc(2027, 10, 30, 22)), []  # 00:00 CEST
    while fire is not None and fire < utc(2027, 10, 31, 5):  # 06:00 CET
        fires.append(fire.astimezone(AMSTERDAM).strftime("%H:%M %Z"))
        fire = trigger.get_next_fire_time(fire, fire)

    assert fires == expected
    assert isinstance(trigger, WallClockCronTrigger)
    stored = pickle.loads(pickle.dumps(trigger))  # as the job store keeps it
    assert stored.get_next_fire_time(None, NOW) == trigger.get_next_fire_time(None, NOW)


@pytest.mark.parametrize(
    ("now", "step", "expected"),
    [
        # build: the fourth Monday (22-28) at 07:00; send: the first Thursday at 09:00
        (NOW, "build", ["2027-01-25 07:00 CET", "2027-02-22 07:00 CET", "2027-03-22 07:00 CET"]),
        (NOW, "send", ["2027-01-07 09:00 CET", "2027-02-04 09:00 CET", "2027-03-04 09:00 CET"]),
        (
            utc(2027, 3, 20),
            "build",
            ["2027-03-22 07:00 CET", "2027-04-26 07:00 CEST", "2027-05-24 07:00 CEST"],
        ),
        (
            utc(2027, 3, 20),
            "send",
            ["2027-04-01 09:00 CEST", "2027-05-06 09:00 CEST", "2027-06-03 09:00 CEST"],
        ),
    ],
)
def test_the_shipped_newsletter_schedule(now: datetime, step: str, expected: list[str]) -> None:
    schedules, problems = load(ROOT / "schedules", now)

    assert problems == []
    (newsletter,) = [s for s in schedules if s.kind.key == "newsletter"]
    assert [local_text(run) for run in newsletter.next_runs(step, now, 3)] == expected  # type: ignore[arg-type]
    assert newsletter.approval_required and newsletter.approval_deadline == timedelta(hours=48)
    assert newsletter.window.describe() == "mon-fri 08:00-18:00"


def test_previous_and_next_send(valid: Schedule) -> None:
    send = utc(2027, 1, 7, 8)  # 09:00 CET

    assert valid.previous_send_before(send) == utc(2026, 12, 3, 8)
    assert valid.next_send_after(send) == utc(2027, 2, 4, 8)
    assert valid.approval_due(send) == utc(2027, 1, 5, 8)
    assert dataclasses.replace(valid, approval_required=False).approval_due(send) is None


# -- day-of-week numbers: crontab's, not APScheduler's ------------------------------


@pytest.mark.parametrize(
    ("cron", "normalised", "weekdays"),
    [
        ("0 9 * * 1", "0 9 * * mon", {0}),
        ("0 9 * * 0", "0 9 * * sun", {6}),  # APScheduler alone would read 0 as Monday
        ("0 9 * * 7", "0 9 * * sun", {6}),
        ("0 9 * * 1-5", "0 9 * * mon-fri", {0, 1, 2, 3, 4}),
        ("0 9 * * 0,6", "0 9 * * sat,sun", {5, 6}),
        ("0 9 * * 5-7", "0 9 * * fri-sun", {4, 5, 6}),
        ("0 9 * * */2", "0 9 * * tue,thu,sat,sun", {1, 3, 5, 6}),
        ("0  9 * * MON-FRI", "0 9 * * mon-fri", {0, 1, 2, 3, 4}),
    ],
)
def test_weekday_numbers_are_read_as_crontab_reads_them(
    valid: Schedule, cron: str, normalised: str, weekdays: set[int]
) -> None:
    assert normalise_cron(cron) == normalised
    runs = with_cron(valid, cron).next_runs("send", NOW, 14)
    assert {run.astimezone(AMSTERDAM).weekday() for run in runs} == weekdays


# -- the send window ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ("mon-fri", "mon-fri"),
        ("mon,wed,fri", "mon,wed,fri"),
        (["mon", "tue"], "mon,tue"),
        ("mon-sun", "mon-sun"),
        ("Fri-Mon", "mon,fri-sun"),
    ],
)
def test_window_days(days: object, expected: str) -> None:
    window = SendWindow(parse_days(days), time(8), time(18))  # type: ignore[arg-type]
    assert window.describe() == f"{expected} 08:00-18:00"


@pytest.mark.parametrize(
    ("moment", "allowed"),
    [
        (utc(2027, 1, 4, 7), True),  # Monday 08:00 CET: the start is inside
        (utc(2027, 1, 4, 6, 59), False),  # 07:59 CET
        (utc(2027, 7, 5, 6), True),  # Monday 08:00 CEST
        (utc(2027, 7, 5, 15, 59), True),  # 17:59 CEST
        (utc(2027, 7, 5, 16), False),  # 18:00 CEST: the end is outside
        (utc(2027, 1, 2, 9), False),  # Saturday
    ],
)
def test_window_allows(moment: datetime, allowed: bool) -> None:
    assert SendWindow(frozenset(range(5)), time(8), time(18)).allows(moment) is allowed


# -- what is wrong, where and why ---------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "words", "line"),
    [
        (
            '"0 9 1-7 * thu"',
            '"0 9 1-7 *"',
            ["[send] cron '0 9 1-7 *' is not valid", "Wrong number of fields"],
            None,
        ),
        (
            '"0 9 1-7 * thu"',
            '"0 25 1-7 * thu"',
            ["'0 25 1-7 * thu' is not valid", "maximum value (23)"],
            None,
        ),
        ('"0 9 1-7 * thu"', '"0 9 * * 8"', ["'0 9 * * 8' is not valid", "0 and 7 are Sunday"], None),
        ('"0 7 22-28 * mon"', '"0 7 31 2 *"', ["[build] cron '0 7 31 2 *' never runs", "February"], 6),
        ('"0 9 1-7 * thu"', '"0 9 30 2 *"', ["[send] cron '0 9 30 2 *' never runs"], 15),
        ('"statenleden"', '"gemeenteraad"', ["unknown audience 'gemeenteraad'", "gs, statenleden"], 2),
        ('template = "newsletter"', 'template = "agenda"', ["unknown template 'agenda'", "newsletter"], 3),
        ('kind = "newsletter"', 'kind = "agenda"', ["unknown kind 'agenda'", "newsletter"], 1),
        ('kind = "newsletter"\n', "", ["kind is missing", 'kind = "newsletter"'], None),
        ('cron = "0 7 22-28 * mon"\n', "", ["[build] cron is missing"], 5),
        (
            '"0 9 1-7 * thu"',
            '"0 9 1-7 * sat"',
            ["send at Saturday 2027-01-02 09:00 CET is outside the send window mon-fri 08:00-18:00"],
            15,
        ),
        ('"0 9 1-7 * thu"', '"0 7 1-7 * thu"', ["send at Thursday 2027-01-07 07:00 CET is outside"], 15),
        ('"mon-fri"', '"mon-fry"', ["[send.window] days 'mon-fry' is not valid", '"mon,wed,fri"'], 19),
        ('"08:00-18:00"', '"8-18"', ["[send.window] hours '8-18' is not valid", '"08:00-18:00"'], 20),
        ('"08:00-18:00"', '"18:00-08:00"', ["hours '18:00-08:00'", "start must be before the end"], 20),
        ('"08:00-18:00"', '"08:00-25:00"', ["hours '08:00-25:00' is not valid"], 20),
        (
            '"0 7 22-28 * mon"',
            '"0 7 1-7 * wed"',  # the day before the send: too late to approve
            [
                "send at Thursday 2027-01-07 09:00 CET has no build after the previous send "
                "(2026-12-03 09:00 CET) before the approval deadline 2027-01-05 09:00 CET",
                "deadline_hours",
            ],
            6,
        ),
        (
            'cron = "0 7 22-28 * mon"\nstale_after_hours = 24\n\n[approval]\nrequired = true',
            'cron = "0 7 22-28 3,6,9,12 mon"\nstale_after_hours = 24\n\n[approval]\nrequired = false',
            ["send at Thursday 2027-02-04 09:00 CET has no build after the previous send", "before it"],
            6,
        ),
        (
            "stale_after_hours = 2\n",
            "stale_after_hours = 0\n",
            ["[send] stale_after_hours must be more than 0"],
            16,
        ),
        ("deadline_hours = 48", "deadline_hours = -1", ["[approval] deadline_hours must be 0 or more"], 11),
        (
            '"redactie@ipo.example.org"',
            '"redactie"',
            ["[approval] notify: 'redactie' is not an e-mail address"],
            12,
        ),
        ("[approval]", "[aproval]", ["unknown table [aproval]", "did you mean 'approval'?"], 9),
        ("stale_after_hours = 24", "stale_after_hour = 24", ["unknown key 'stale_after_hour' in [build]"], 7),
        ("required = true", 'required = "yes"', ["[approval] required must be true or false, not 'yes'"], 10),
        (
            "stale_after_hours = 2\n",
            'stale_after_hours = "2"\n',
            ["[send] stale_after_hours must be a number"],
            16,
        ),
        ("[send.window]", "[send.windows]", ["unknown table [send.windows]", "did you mean 'window'?"], 18),
        (
            '"0 9 1-7 * thu"',
            '"0 9 1-14 * thu"',
            ["sends the newsletter edition 2027-01 more than once", "2027-01-07 09:00 CET", "2027-01-14"],
            15,
        ),
        ('kind = "newsletter"', "kind = newsletter", ["not valid TOML"], 1),
    ],
)
def test_each_mistake_is_reported_with_file_line_and_reason(
    tmp_path: Path, old: str, new: str, words: list[str], line: int | None
) -> None:
    assert old in VALID
    path = write(tmp_path / "schedules", VALID.replace(old, new))

    schedules, problems = load(tmp_path / "schedules")

    assert schedules == []
    found = [p for p in problems if all(word in p.reason for word in words)]
    assert found, [p.reason for p in problems]
    assert found[0].where == str(path)
    assert found[0].line == line


def test_every_mistake_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        VALID.replace('"statenleden"', '"gemeenteraad"')
        .replace('"0 9 1-7 * thu"', '"0 9 1-7 * sat"')
        .replace("[approval]", "[aproval]")
        .replace("stale_after_hours = 24", "stale_after_hour = 24")
        .replace('"mon-fri"', '"weekdays"')
    )
    write(tmp_path / "schedules", text)

    _, problems = load(tmp_path / "schedules")

    reasons = "\n".join(p.reason for p in problems)
    for words in (
        "unknown audience",
        "unknown table [aproval]",
        "unknown key 'stale_after_hour'",
        "'weekdays'",
    ):
        assert words in reasons
    assert len(problems) == 4


def test_the_window_is_checked_when_other_values_are_wrong(tmp_path: Path) -> None:
    write(tmp_path / "schedules", VALID.replace('"statenleden"', '"raad"').replace("* thu", "* sun"))

    _, problems = load(tmp_path / "schedules")

    assert [p.line for p in problems] == [2, 15]
    assert "send at Sunday 2027-01-03 09:00 CET is outside the send window" in problems[1].reason


def test_two_schedules_for_one_edition_are_reported_on_both(tmp_path: Path) -> None:
    directory = tmp_path / "schedules"
    first = write(directory, VALID, "nieuwsbrief-a")
    second = write(directory, VALID.replace('"0 9 1-7 * thu"', '"0 9 1-7 * fri"'), "nieuwsbrief-b")

    schedules, problems = load(directory)

    assert schedules == []
    assert [p.where for p in problems] == [str(first), str(second)]
    for problem in problems:
        # 2027-01-01 09:00 is before NOW: February is the first edition sent twice
        assert f"{first} and {second} both send the newsletter edition 2027-02: " in problem.reason
        times = "2027-02-04 09:00 CET (nieuwsbrief-a.toml) and 2027-02-05 09:00 CET (nieuwsbrief-b.toml)"
        assert times in problem.reason


def test_a_valid_directory_gives_no_problems(tmp_path: Path) -> None:
    minimal = 'kind = "newsletter"\naudience = "gs"\ntemplate = "newsletter"\n'
    minimal += '[build]\ncron = "0 7 22-28 * mon"\n[send]\ncron = "0 9 1-7 * thu"\n'
    write(tmp_path / "schedules", minimal, "minimal")

    schedules, problems = load(tmp_path / "schedules")

    assert problems == []
    (schedule,) = schedules
    assert (schedule.name, schedule.audience, schedule.notify) == ("minimal", "gs", ())
    assert schedule.build_stale_after == timedelta(hours=24)
    assert schedule.send_stale_after == timedelta(hours=2)
    assert schedule.approval_required and schedule.approval_deadline == timedelta(hours=24)
    assert schedule.window == SendWindow(frozenset(range(5)), time(8), time(18))


def test_an_impossible_date_is_found_quickly(tmp_path: Path) -> None:
    write(tmp_path / "schedules", VALID.replace('"0 9 1-7 * thu"', '"0 9 31 2 *"'))
    started = timer.perf_counter()

    _, problems = load(tmp_path / "schedules")

    assert timer.perf_counter() - started < 2  # bounded at five years, not APScheduler's year 9999
    assert "never runs" in problems[0].reason


# -- the fingerprint ----------------------------------------------------------------


def test_the_fingerprint_is_stable_and_follows_timing_only(valid: Schedule) -> None:
    assert valid.fingerprint == "007f291e14bf"  # the same in every process and every run
    assert dataclasses.replace(valid, audience="gs", notify=()).fingerprint == valid.fingerprint
    changed = [
        with_cron(valid, "0 9 1-7 * fri"),
        dataclasses.replace(valid, approval_deadline=timedelta(hours=24)),
        dataclasses.replace(valid, send_stale_after=timedelta(hours=3)),
        dataclasses.replace(valid, window=SendWindow(frozenset(range(7)), time(8), time(18))),
    ]
    assert len({valid.fingerprint, *(s.fingerprint for s in changed)}) == 5
