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

Every province must have its table (an empty one uses [default]): a province that is
missing, or whose table has an error, is left out of the calendar and reported, so only
that province's notices stop. All times are Europe/Amsterdam wall-clock times (10:00
stays 10:00 across summer time); GsMeeting carries them as aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from comms.dates import AMSTERDAM, local
from comms.domain import PROVINCES, province_by_name
from comms.problems import Problem, Severity
from comms.tomlfile import read_toml

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
    text, data, problems = read_toml(path)
    if data is None:
        return None, problems
    reader = _Reader(str(path), text, problems)
    for key in [k for k in data if k not in ("default", "provinces")]:
        reader.add(f"unknown key '{key}' (expected [default] and [provinces.NAME] tables)", "", key)
    default = _default_rhythm(reader, data.get("default", {}))
    if default is None:
        return None, reader.problems
    provinces = _provinces(reader, data.get("provinces", {}), default)
    for province in PROVINCES:
        if province.name not in provinces and province.name not in reader.broken:
            reason = (
                f"province {province.name} is missing: add a table [provinces.{_toml_key(province.name)}] "
                "(an empty one uses [default]); no agenda notices can be planned for it"
            )
            reader.problems.append(Problem(reader.where, reason, subject=province.name))
    return GsCalendar(path, provinces), reader.problems


def check_gs_calendar(base: Path) -> list[Problem]:
    """For `comms check`: the problems of the GS calendar; `base` is the project folder or the file."""
    path = base / GS_CALENDAR_FILE if base.is_dir() else base
    return load_gs_calendar(path)[1]


@dataclass
class _Reader:
    """The file being read: its text, for line numbers, and the problems found so far."""

    where: str
    text: str
    problems: list[Problem]
    broken: set[str] = field(default_factory=set)  # provinces left out because of an error

    def add(
        self,
        reason: str,
        table: str,
        key: str | None = None,
        *,
        needle: str | None = None,
        subject: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """A problem at `needle` after `key` in [table] (see line)."""
        line = self.line(table, key, needle)
        self.problems.append(Problem(self.where, reason, line=line, subject=subject, severity=severity))

    def line(self, table: str, key: str | None = None, needle: str | None = None) -> int | None:
        """The line of `needle` after `key` in [table], else of `key`, else of the [table] header.

        tomllib keeps no positions, so this reads the text: a table's lines run from its
        header to the next header; `key` is found as `key =`, `needle` anywhere after it.
        """
        section = _section(self.text, table)
        if section is None:
            return None
        header, lines = section
        at_key = next((n for n, line in lines if key and _starts_key(line, key)), None)
        if at_key is not None and needle:
            return next((n for n, line in lines if n >= at_key and needle in line), at_key)
        return at_key or header


def _section(text: str, table: str) -> tuple[int | None, list[tuple[int, str]]] | None:
    """(header line, the numbered lines below it) of [table]; "" is the part before any header."""
    header: int | None = None
    current, lines, found = "", [], table == ""
    for number, line in enumerate(text.splitlines(), start=1):
        if opened := re.match(r"\s*\[\[?([^\[\]]+)\]\]?", line):
            if found and current == table:
                break
            current = _bare(opened[1])
            if current == table:
                header, found = number, True
            continue
        if current == table:
            lines.append((number, line))
    return (header, lines) if found else None


def _bare(key: str) -> str:
    """A table name as tomllib sees it, near enough: no spaces or quotes."""
    return re.sub(r"[\s\"']", "", key)


def _starts_key(line: str, key: str) -> bool:
    return re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*[=.]", line) is not None


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def _default_rhythm(reader: _Reader, table: Any) -> Rhythm | None:
    if not isinstance(table, dict):
        reader.add("default must be a table: a line [default] with its keys below it", "", "default")
        return None
    before = len(reader.problems)
    for key in [k for k in table if k not in _TIMING_KEYS]:
        hint = (
            " (skip, recess and extra belong in a [provinces.NAME] table)" if key in _EXCEPTION_KEYS else ""
        )
        reader.add(f"[default] unknown key '{key}'{hint}; known: {', '.join(_TIMING_KEYS)}", "default", key)
    rhythm = _rhythm(reader, table, "default", DEFAULT_RHYTHM)
    return rhythm if len(reader.problems) == before else None


def _provinces(reader: _Reader, tables: Any, default: Rhythm) -> dict[str, ProvinceCalendar]:
    if not isinstance(tables, dict):
        reader.add("provinces must be tables like [provinces.Utrecht]", "", "provinces")
        return {}
    found: dict[str, ProvinceCalendar] = {}
    first_key: dict[str, str] = {}
    for key, table in tables.items():
        where = f"provinces.{_bare(key)}"
        province = province_by_name(key)
        if province is None:
            known = ", ".join(p.name for p in PROVINCES)
            reader.add(f"[provinces.{key}] unknown province '{key}'; known: {known}", where, subject=key)
            continue
        if province.name in first_key:
            reason = (
                f"[provinces.{key}] is {province.name} again, after [provinces.{first_key[province.name]}]"
            )
            reader.add(reason, where, subject=province.name)
            continue
        first_key[province.name] = key
        before = sum(p.is_error for p in reader.problems)
        calendar = _province(reader, province.name, where, table, default)
        if calendar is None or sum(p.is_error for p in reader.problems) > before:
            reader.broken.add(province.name)
        else:
            found[province.name] = calendar
    return found


def _province(reader: _Reader, name: str, where: str, table: Any, default: Rhythm) -> ProvinceCalendar | None:
    if not isinstance(table, dict):
        reader.add(f"[{where}] must be a table: a line [{where}] with its keys below it", where, subject=name)
        return None
    known = (*_TIMING_KEYS, *_EXCEPTION_KEYS)
    for key in [k for k in table if k not in known]:
        reader.add(f"[{where}] unknown key '{key}'; known: {', '.join(known)}", where, key, subject=name)
    rhythm = _rhythm(reader, table, where, default, subject=name)
    if rhythm is None:
        return None
    entries = {kind: _entries(reader, table, where, kind, name) for kind in _EXCEPTION_KEYS}
    recesses = tuple(r for e in entries["recess"] if (r := _recess(reader, where, e)))
    calendar = ProvinceCalendar(name, rhythm, recesses=recesses)
    skipped = {d for e in entries["skip"] if (d := _skip(reader, where, e, calendar))}
    calendar = replace(calendar, skipped=frozenset(skipped))
    extras = tuple(x for e in entries["extra"] if (x := _extra(reader, where, e, calendar)))
    return replace(calendar, extras=extras)


# -- values -------------------------------------------------------------------------------


def _rhythm(
    reader: _Reader, table: dict[str, Any], where: str, base: Rhythm, subject: str | None = None
) -> Rhythm | None:
    """base with the timing keys of table; None (and problems) if one of them is wrong."""
    values: dict[str, Any] = {}
    checks = {
        "weekday": (_weekday, 'a day like "dinsdag" or "tuesday"'),
        "time": (_clock, 'a time like "10:00"'),
        "agenda_closes_days_before": (_days_before, f"a whole number of days from 0 to {_MAX_DAYS_BEFORE}"),
        "agenda_closes_at": (_clock, 'a time like "12:00"'),
    }
    for key, (parse, expected) in checks.items():
        if key in table:
            value = parse(table[key])
            if value is None:
                reader.add(
                    f"[{where}] {key} must be {expected}, not {table[key]!r}", where, key, subject=subject
                )
            values[key] = value
    if any(v is None for v in values.values()):
        return None
    rhythm = replace(base, **{"at" if k == "time" else k: v for k, v in values.items()})
    if not rhythm.closes_before_meeting:
        reason = f"[{where}] the agenda must close before the meeting: agenda_closes_at is not before time"
        reader.add(reason, where, "agenda_closes_at", subject=subject)
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
    province: str
    values: dict[str, Any]

    @property
    def reason(self) -> str | None:
        return self.values.get("reason")


def _entries(reader: _Reader, table: dict[str, Any], where: str, kind: str, province: str) -> list[_Entry]:
    """The entries of a skip/recess/extra list whose keys are all known."""
    raw = table.get(kind, [])
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        reason = f"[{where}] {kind} must be a list of {{ … }} entries, like {_ENTRY_EXAMPLES[kind]}"
        reader.add(reason, where, kind, subject=province)
        return []
    known = _ENTRY_KEYS[kind]
    good = []
    for values in raw:
        unknown = [k for k in values if k not in known]
        for key in unknown:
            reason = f"[{where}] {kind}: unknown key '{key}' in an entry; known: {', '.join(known)}"
            reader.add(reason, where, kind, needle=key, subject=province)
        reason_text = values.get("reason")
        if reason_text is not None and not isinstance(reason_text, str):
            reason = f"[{where}] {kind}: reason must be text, not {reason_text!r}"
            reader.add(reason, where, kind, subject=province)
        elif not unknown:
            good.append(_Entry(kind, province, values))
    return good


def _entry_day(reader: _Reader, where: str, entry: _Entry, key: str) -> date | None:
    if key not in entry.values:
        reason = (
            f"[{where}] {entry.kind}: an entry without {key}; write it like {_ENTRY_EXAMPLES[entry.kind]}"
        )
        reader.add(reason, where, entry.kind, subject=entry.province)
        return None
    day = _day(entry.values[key])
    if day is None:
        raw = entry.values[key]
        reason = f"[{where}] {entry.kind}: {key} must be a date like 2026-12-29, not {raw!r}"
        reader.add(reason, where, entry.kind, needle=str(raw), subject=entry.province)
    return day


def _recess(reader: _Reader, where: str, entry: _Entry) -> Recess | None:
    first = _entry_day(reader, where, entry, "from")
    last = _entry_day(reader, where, entry, "until")
    if first is None or last is None:
        return None
    if first > last:
        reason = f"[{where}] recess: from {first} is after until {last}"
        reader.add(reason, where, "recess", needle=first.isoformat(), subject=entry.province)
        return None
    return Recess(first, last, entry.reason)


def _skip(reader: _Reader, where: str, entry: _Entry, calendar: ProvinceCalendar) -> date | None:
    day = _entry_day(reader, where, entry, "date")
    if day is not None and day.weekday() != calendar.rhythm.weekday:
        # Harmless but probably a typo in the date: the meeting meant to be skipped still counts.
        reason = (
            f"[{where}] skip: {day} is a {_english_day(day.weekday())}, not a GS meeting day "
            f"(GS {calendar.province} meets on {_english_day(calendar.rhythm.weekday)}); nothing is skipped"
        )
        reader.add(
            reason, where, "skip", needle=day.isoformat(), subject=calendar.province, severity=_WARNING
        )
    return day


def _extra(reader: _Reader, where: str, entry: _Entry, calendar: ProvinceCalendar) -> ExtraMeeting | None:
    day = _entry_day(reader, where, entry, "date")
    place = {"needle": day.isoformat() if day else None, "subject": calendar.province}
    at = _clock(entry.values.get("time", calendar.rhythm.at))
    if at is None:
        reader.add(
            f'[{where}] extra: time must be a time like "14:00", not {entry.values["time"]!r}',
            where,
            "extra",
            **place,
        )
    days_before = _days_before(
        entry.values.get("agenda_closes_days_before", calendar.rhythm.agenda_closes_days_before)
    )
    if days_before is None:
        reason = (
            f"[{where}] extra: agenda_closes_days_before must be a whole number of days from 0 to "
            f"{_MAX_DAYS_BEFORE}, not {entry.values['agenda_closes_days_before']!r}"
        )
        reader.add(reason, where, "extra", **place)
    if day is None or at is None or days_before is None:
        return None
    rhythm = replace(calendar.rhythm, weekday=day.weekday(), at=at, agenda_closes_days_before=days_before)
    if not rhythm.closes_before_meeting:
        reason = (
            f"[{where}] extra {day}: the agenda must close before the meeting; set agenda_closes_days_before"
        )
        reader.add(reason, where, "extra", **place)
        return None
    if calendar.meets_regularly_on(day):
        reason = (
            f"[{where}] extra: GS {calendar.province} already meets on {_english_day(day.weekday())} "
            f"{day}; skip the regular meeting if the extra one replaces it"
        )
        reader.add(reason, where, "extra", **place, severity=_WARNING)
    return ExtraMeeting(day, rhythm, entry.reason)


def _english_day(weekday: int) -> str:
    return _DAY_NAMES[weekday][1].capitalize()
