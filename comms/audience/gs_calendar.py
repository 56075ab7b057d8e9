"""The weekly GS meeting of every province, from `audiences/gs-calendar.toml`.

An agenda notice must reach Gedeputeerde Staten before *their* GS agenda closes, so
the planner needs, per province: the weekday and time of the weekly meeting, how many
days before it the agenda closes (and at what time), and the exceptions: holidays,
recess weeks and extra meetings. [default] gives the rhythm most provinces share;
[provinces.NAME] overrides it and lists the exceptions:

    [default]
    weekday = "dinsdag"               # Dutch or English: "dinsdag", "tuesday", "di", "tue"
    time = "10:00"
    agenda_closes_days_before = 7     # calendar days
    agenda_closes_at = "12:00"

    [provinces.Utrecht]
    skip = [{ date = 2026-12-29, reason = "kerstreces" }]
    recess = [{ from = 2027-07-12, until = 2027-08-20, reason = "zomerreces" }]
    extra = [{ date = 2027-01-07, time = "14:00", reason = "extra vergadering" }]
    closed = [2026-12-24, 2026-12-31]  # offices closed: no notice is planned on these days

`closed` may also stand in [default] (every province is closed then), besides a province's own.
Public holidays need no listing: comms.audience.workdays knows them.

Every province must have its table (an empty one uses [default]): a province that is
missing, or whose table has an error, is left out of the calendar and reported, so only
that province's notices stop. All times are Europe/Amsterdam wall-clock times (10:00
stays 10:00 across summer time); GsMeeting carries them as aware UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from comms.dates import AMSTERDAM, local
from comms.domain import PROVINCES, province_by_name
from comms.problems import Problem, Severity
from comms.tomlfile import Table, TomlFile, bare

GS_CALENDAR_FILE = Path("audiences") / "gs-calendar.toml"  # relative to the project root

# index = datetime.weekday(); Dutch first, as the communications team writes them
_DAY_NAMES = (
    ("maandag", "monday", "ma", "mon"),
    ("dinsdag", "tuesday", "di", "tue"),
    ("woensdag", "wednesday", "wo", "wed"),
    ("donderdag", "thursday", "do", "thu"),
    ("vrijdag", "friday", "vr", "fri"),
    ("zaterdag", "saturday", "za", "sat"),
    ("zondag", "sunday", "zo", "sun"),
)
_WEEKDAYS = {name: index for index, names in enumerate(_DAY_NAMES) for name in names}
_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")  # "10:00", also the Dutch "9.30"
_MAX_DAYS_BEFORE = 28
_WARNING = Severity.WARNING  # reported; the province stays in the calendar

_TIMING_KEYS = ("weekday", "time", "agenda_closes_days_before", "agenda_closes_at")
_EXCEPTION_KEYS = ("skip", "recess", "extra")
_CLOSED = "closed"
_ENTRY_KEYS = {
    "skip": ("date", "reason"),
    "recess": ("from", "until", "reason"),
    "extra": ("date", "time", "agenda_closes_days_before", "reason"),
}
_ENTRY_EXAMPLES = {
    "skip": 'skip = [{ date = 2026-12-29, reason = "kerstreces" }]',
    "recess": 'recess = [{ from = 2027-07-12, until = 2027-08-20, reason = "zomerreces" }]',
    "extra": 'extra = [{ date = 2027-01-07, time = "14:00", reason = "extra vergadering" }]',
}


# -- the calendar -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GsMeeting:
    """One GS meeting of one province, and when its agenda closes (both aware UTC)."""

    province: str  # Province.name
    at: datetime
    agenda_closes_at: datetime
    is_extra: bool = False
    note: str | None = None  # the reason of an extra meeting

    @property
    def day(self) -> date:
        return local(self.at).date()

    def takes_items_at(self, moment: datetime) -> bool:
        """Whether an item sent at `moment` can still go on this meeting's agenda."""
        return moment < self.agenda_closes_at


@dataclass(frozen=True, slots=True)
class Rhythm:
    """When a province meets and when its agenda closes, in local wall-clock time."""

    weekday: int  # 0 = Monday … 6 = Sunday
    at: time
    agenda_closes_days_before: int
    agenda_closes_at: time

    def meeting(
        self, province: str, day: date, *, is_extra: bool = False, note: str | None = None
    ) -> GsMeeting:
        closes = day - timedelta(days=self.agenda_closes_days_before)
        return GsMeeting(
            province=province,
            at=_utc(day, self.at),
            agenda_closes_at=_utc(closes, self.agenda_closes_at),
            is_extra=is_extra,
            note=note,
        )

    @property
    def closes_before_meeting(self) -> bool:
        return self.agenda_closes_days_before > 0 or self.agenda_closes_at < self.at


DEFAULT_RHYTHM = Rhythm(weekday=1, at=time(10, 0), agenda_closes_days_before=7, agenda_closes_at=time(12, 0))


@dataclass(frozen=True, slots=True)
class Recess:
    first: date
    last: date  # inclusive
    reason: str | None = None

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class ExtraMeeting:
    day: date
    rhythm: Rhythm  # the province's, with this meeting's time and deadline
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProvinceCalendar:
    province: str
    rhythm: Rhythm
    skipped: frozenset[date] = frozenset()
    recesses: tuple[Recess, ...] = ()
    extras: tuple[ExtraMeeting, ...] = ()
    closed: frozenset[date] = frozenset()  # the offices' closed days besides public holidays

    def meets_regularly_on(self, day: date) -> bool:
        return (
            day.weekday() == self.rhythm.weekday
            and day not in self.skipped
            and not any(r.covers(day) for r in self.recesses)
        )

    def meetings(self, start: datetime, end: datetime) -> list[GsMeeting]:
        """The meetings from start (inclusive) to end (exclusive), in order."""
        first, last = local(start).date(), local(end).date()
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        found = [self.rhythm.meeting(self.province, day) for day in days if self.meets_regularly_on(day)]
        found += [
            extra.rhythm.meeting(self.province, extra.day, is_extra=True, note=extra.reason)
            for extra in self.extras
        ]
        return sorted((m for m in found if start <= m.at < end), key=lambda m: m.at)


class GsCalendar:
    """The GS meetings of the provinces that the calendar file describes without errors."""

    def __init__(self, path: Path, provinces: dict[str, ProvinceCalendar]):
        self.path = path
        self._provinces = provinces

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def provinces(self) -> tuple[str, ...]:
        """Known provinces, in the order of comms.domain.PROVINCES."""
        return tuple(p.name for p in PROVINCES if p.name in self._provinces)

    def knows(self, province: str) -> bool:
        return self._calendar(province) is not None

    def closed_days(self, province: str) -> frozenset[date]:
        """The province's closed days (its own and [default]'s); empty for an unknown province."""
        calendar = self._calendar(province)
        return calendar.closed if calendar else frozenset()

    def meetings(self, province: str, start: datetime, end: datetime) -> list[GsMeeting]:
        """GS meetings of `province` (any spelling) with start <= at < end; ask knows() first."""
        calendar = self._calendar(province)
        if calendar is None:
            raise ValueError(f"province {province!r} is not in the GS calendar {self.where}")
        return calendar.meetings(start, end)

    def _calendar(self, province: str) -> ProvinceCalendar | None:
        found = province_by_name(province)
        return self._provinces.get(found.name) if found else None


def _utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, AMSTERDAM).astimezone(UTC)


# -- loading ----------------------------------------------------------------------------


def load_gs_calendar(path: Path) -> tuple[GsCalendar | None, list[Problem]]:
    """The calendar and every problem of the file.

    None only when the file cannot be read or [default] is wrong (every province depends
    on it); a province with an error, or without a table, is left out and reported.
    """
    file = TomlFile(path)
    data = file.root
    if data is None:
        return None, file.problems
    data.check_keys(("default", "provinces"), _unknown_top_level_key)
    default_table = data.table("default")
    default = _default_rhythm(default_table)
    if default is None:
        return None, file.problems
    shared = _closed(default_table) if default_table is not None else frozenset()
    provinces, broken = _provinces(data, default)
    provinces = {name: replace(c, closed=c.closed | shared) for name, c in provinces.items()}
    for province in PROVINCES:
        if province.name not in provinces and province.name not in broken:
            reason = (
                f"province {province.name} is missing: add a table [provinces.{_toml_key(province.name)}] "
                "(an empty one uses [default]); no agenda notices can be planned for it"
            )
            file.add(reason, subject=province.name)  # no line: the table is not there
    return GsCalendar(path, provinces), file.problems


def check_gs_calendar(base: Path) -> list[Problem]:
    """For `comms check`: the problems of the GS calendar; `base` is the project folder or the file."""
    path = base / GS_CALENDAR_FILE if base.is_dir() else base
    return load_gs_calendar(path)[1]


def _unknown_top_level_key(key: str, _guess: str | None) -> str:
    return f"unknown key '{key}' (expected [default] and [provinces.NAME] tables)"


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _default_rhythm(table: Table | None) -> Rhythm | None:
    if table is None:
        return None
    before = len(table.file.problems)

    def reason(key: str, _guess: str | None) -> str:
        exceptions = " (skip, recess and extra belong in a [provinces.NAME] table)"
        hint = exceptions if key in _EXCEPTION_KEYS else ""
        return f"[default] unknown key '{key}'{hint}; known: {', '.join((*_TIMING_KEYS, _CLOSED))}"

    table.check_keys((*_TIMING_KEYS, _CLOSED), reason)
    rhythm = _rhythm(table, DEFAULT_RHYTHM)
    return rhythm if len(table.file.problems) == before else None


def _provinces(data: Table, default: Rhythm) -> tuple[dict[str, ProvinceCalendar], set[str]]:
    """The calendars of the provinces without errors, and the provinces left out for an error."""
    tables = data.data.get("provinces", {})
    if not isinstance(tables, dict):
        data.add("provinces must be tables like [provinces.Utrecht]", "provinces")
        return {}, set()
    found: dict[str, ProvinceCalendar] = {}
    broken: set[str] = set()
    first_key: dict[str, str] = {}
    for key, value in tables.items():
        where = f"provinces.{bare(key)}"
        province = province_by_name(key)
        if province is None:
            known = ", ".join(p.name for p in PROVINCES)
            data.file.add(f"[provinces.{key}] unknown province '{key}'; known: {known}", where, subject=key)
            continue
        if province.name in first_key:
            reason = (
                f"[provinces.{key}] is {province.name} again, after [provinces.{first_key[province.name]}]"
            )
            data.file.add(reason, where, subject=province.name)
            continue
        first_key[province.name] = key
        before = sum(p.is_error for p in data.file.problems)
        calendar = _province(data.file, where, province.name, value, default)
        if calendar is None or sum(p.is_error for p in data.file.problems) > before:
            broken.add(province.name)
        else:
            found[province.name] = calendar
    return found, broken


def _province(file: TomlFile, where: str, name: str, value: Any, default: Rhythm) -> ProvinceCalendar | None:
    if not isinstance(value, dict):
        file.add(f"[{where}] must be a table: a line [{where}] with its keys below it", where, subject=name)
        return None
    table = Table(file, value, where, subject=name)
    known = (*_TIMING_KEYS, *_EXCEPTION_KEYS, _CLOSED)
    table.check_keys(known, lambda key, _: f"[{where}] unknown key '{key}'; known: {', '.join(known)}")
    rhythm = _rhythm(table, default)
    if rhythm is None:
        return None
    entries = {kind: _entries(table, kind) for kind in _EXCEPTION_KEYS}
    recesses = tuple(r for e in entries["recess"] if (r := _recess(e)))
    calendar = ProvinceCalendar(name, rhythm, recesses=recesses, closed=_closed(table))
    skipped = {d for e in entries["skip"] if (d := _skip(e, calendar))}
    calendar = replace(calendar, skipped=frozenset(skipped))
    extras = tuple(x for e in entries["extra"] if (x := _extra(e, calendar)))
    return replace(calendar, extras=extras)


# -- values -------------------------------------------------------------------------------


def _closed(table: Table) -> frozenset[date]:
    """`closed = [2026-12-24, …]`: the days whose dates are valid; each wrong one is reported."""
    raw = table.data.get(_CLOSED, [])
    if not isinstance(raw, list):
        table.add(
            f"{table.label(_CLOSED)} must be a list of dates, like closed = [2026-12-24, 2026-12-31]", _CLOSED
        )
        return frozenset()
    days = set()
    for value in raw:
        day = _day(value)
        if day is None:
            reason = f"{table.label(_CLOSED)}: {value!r} is not a date like 2026-12-24"
            table.add(reason, _CLOSED, needle=str(value))
        else:
            days.add(day)
    return frozenset(days)


def _rhythm(table: Table, base: Rhythm) -> Rhythm | None:
    """base with the timing keys of table; None (and problems) if one of them is wrong."""
    values: dict[str, Any] = {}
    checks: dict[str, tuple[Callable[[Any], Any], str]] = {
        "weekday": (_weekday, 'a day like "dinsdag" or "tuesday"'),
        "time": (_clock, 'a time like "10:00"'),
        "agenda_closes_days_before": (_days_before, f"a whole number of days from 0 to {_MAX_DAYS_BEFORE}"),
        "agenda_closes_at": (_clock, 'a time like "12:00"'),
    }
    for key, (parse, expected) in checks.items():
        if key in table.data:
            value = parse(table.data[key])
            if value is None:
                table.add(f"{table.label(key)} must be {expected}, not {table.data[key]!r}", key)
            values[key] = value
    if any(v is None for v in values.values()):
        return None
    rhythm = replace(base, **{"at" if k == "time" else k: v for k, v in values.items()})
    if not rhythm.closes_before_meeting:
        reason = "the agenda must close before the meeting: agenda_closes_at is not before time"
        table.add(f"[{table.name}] {reason}", "agenda_closes_at")
        return None
    return rhythm


def _weekday(value: Any) -> int | None:
    return _WEEKDAYS.get(value.strip().lower()) if isinstance(value, str) else None


def _clock(value: Any) -> time | None:
    """'10:00', '9.30' or a TOML time (10:00:00)."""
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    found = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        return None
    return time(int(found[1]), int(found[2]))


def _days_before(value: Any) -> int | None:
    valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_DAYS_BEFORE
    return value if valid else None


def _day(value: Any) -> date | None:
    """A TOML date (2026-12-29) or the same in quotes; not a date with a time."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Entry:
    """One { … } of a skip, recess or extra list, with known keys only."""

    kind: str  # skip | recess | extra
    table: Table  # the province's
    values: dict[str, Any]

    @property
    def reason(self) -> str | None:
        return self.values.get("reason")

    def add(self, reason: str, *, needle: str | None = None, severity: Severity = Severity.ERROR) -> None:
        """A problem at the line of `needle` in the list, else at the list's key."""
        lead = f"[{self.table.name}] {self.kind}: "
        self.table.add(lead + reason, self.kind, needle=needle, severity=severity)


def _entries(table: Table, kind: str) -> list[_Entry]:
    """The entries of a skip/recess/extra list whose keys are all known."""
    raw = table.data.get(kind, [])
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        example = _ENTRY_EXAMPLES[kind]
        table.add(f"{table.label(kind)} must be a list of {{ … }} entries, like {example}", kind)
        return []
    known = _ENTRY_KEYS[kind]
    good = []
    for values in raw:
        entry = _Entry(kind, table, values)
        unknown = [k for k in values if k not in known]
        for key in unknown:
            entry.add(f"unknown key '{key}' in an entry; known: {', '.join(known)}", needle=key)
        if entry.reason is not None and not isinstance(entry.reason, str):
            entry.add(f"reason must be text, not {entry.reason!r}")
        elif not unknown:
            good.append(entry)
    return good


def _entry_day(entry: _Entry, key: str) -> date | None:
    if key not in entry.values:
        entry.add(f"an entry without {key}; write it like {_ENTRY_EXAMPLES[entry.kind]}")
        return None
    raw = entry.values[key]
    day = _day(raw)
    if day is None:
        entry.add(f"{key} must be a date like 2026-12-29, not {raw!r}", needle=str(raw))
    return day


def _recess(entry: _Entry) -> Recess | None:
    first = _entry_day(entry, "from")
    last = _entry_day(entry, "until")
    if first is None or last is None:
        return None
    if first > last:
        entry.add(f"from {first} is after until {last}", needle=first.isoformat())
        return None
    return Recess(first, last, entry.reason)


def _skip(entry: _Entry, calendar: ProvinceCalendar) -> date | None:
    day = _entry_day(entry, "date")
    if day is not None and day.weekday() != calendar.rhythm.weekday:
        # Harmless but probably a typo in the date: the meeting meant to be skipped still counts.
        reason = (
            f"{day} is a {_english_day(day.weekday())}, not a GS meeting day "
            f"(GS {calendar.province} meets on {_english_day(calendar.rhythm.weekday)}); nothing is skipped"
        )
        entry.add(reason, needle=day.isoformat(), severity=_WARNING)
    return day


def _extra(entry: _Entry, calendar: ProvinceCalendar) -> ExtraMeeting | None:
    day = _entry_day(entry, "date")
    needle = day.isoformat() if day else None
    at = _clock(entry.values.get("time", calendar.rhythm.at))
    if at is None:
        entry.add(f'time must be a time like "14:00", not {entry.values["time"]!r}', needle=needle)
    days_before = _days_before(
        entry.values.get("agenda_closes_days_before", calendar.rhythm.agenda_closes_days_before)
    )
    if days_before is None:
        reason = (
            f"agenda_closes_days_before must be a whole number of days from 0 to {_MAX_DAYS_BEFORE}, "
            f"not {entry.values['agenda_closes_days_before']!r}"
        )
        entry.add(reason, needle=needle)
    if day is None or at is None or days_before is None:
        return None
    rhythm = replace(calendar.rhythm, weekday=day.weekday(), at=at, agenda_closes_days_before=days_before)
    if not rhythm.closes_before_meeting:
        # the date is part of the lead here ("extra 2027-01-07: …"), so not entry.add
        reason = (
            f"[{entry.table.name}] extra {day}: the agenda must close before the meeting; "
            "set agenda_closes_days_before"
        )
        entry.table.add(reason, "extra", needle=needle)
        return None
    if calendar.meets_regularly_on(day):
        reason = (
            f"GS {calendar.province} already meets on {_english_day(day.weekday())} "
            f"{day}; skip the regular meeting if the extra one replaces it"
        )
        entry.add(reason, needle=needle, severity=_WARNING)
    return ExtraMeeting(day, rhythm, entry.reason)


def _english_day(weekday: int) -> str:
    return _DAY_NAMES[weekday][1].capitalize()
