"""When a send may start: weekdays and hours in Dutch time (a schedule's [send.window], and the
working hours agenda notices keep to)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time

from comms.dates import local

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def describe_days(days: Iterable[int]) -> str:
    """{0, 1, 2, 3, 4} → 'mon-fri'; {0, 2, 4} → 'mon,wed,fri'; every day → 'mon-sun'."""
    parts = [
        f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}" if len(run) > 2 else ",".join(DAY_NAMES[d] for d in run)
        for run in _runs(days)
    ]
    return ",".join(parts)


def _runs(days: Iterable[int]) -> list[list[int]]:
    """Consecutive weekdays together: {0, 1, 2, 4} → [[0, 1, 2], [4]]."""
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


DUTCH_DAY_NAMES = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")


def describe_days_dutch(days: Iterable[int]) -> str:
    """{0, …, 4} → 'maandag tot en met vrijdag'; {0, 2} → 'maandag en woensdag'."""
    if len(set(days)) == 7:
        return "elke dag"
    parts = [
        f"{DUTCH_DAY_NAMES[run[0]]} tot en met {DUTCH_DAY_NAMES[run[-1]]}"
        if len(run) > 2
        else " en ".join(DUTCH_DAY_NAMES[d] for d in run)
        for run in _runs(days)
    ]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} en {parts[-1]}"


def _clock(moment: time) -> str:
    return f"{moment.hour}.{moment.minute:02d}"


def parse_days(value: object) -> frozenset[int] | None:
    """'mon-fri', 'mon,wed,fri' or ['mon', 'tue'] (a range may wrap: 'fri-mon'); None if not valid."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    days: set[int] = set()
    for item in items:
        if not isinstance(item, str):
            return None
        first, _, last = item.strip().lower().partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            return None
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return frozenset(days) or None


def parse_hours(value: str) -> tuple[time, time] | None:
    """'08:00-18:00' → (08:00, 18:00); None if it does not look like that."""
    found = _HOURS.match(value.strip())
    try:
        return (time(int(found[1]), int(found[2])), time(int(found[3]), int(found[4]))) if found else None
    except ValueError:  # 25:00, 08:75
        return None


@dataclass(frozen=True, slots=True)
class SendWindow:
    """When a send may start: these weekdays, from start up to (not including) end, local time."""

    days: frozenset[int]  # 0 = Monday … 6 = Sunday
    start: time
    end: time

    def allows(self, moment: datetime) -> bool:
        wall = local(moment)
        return wall.weekday() in self.days and self.start <= wall.time() < self.end

    def describe(self) -> str:
        return f"{describe_days(self.days)} {self.start:%H:%M}-{self.end:%H:%M}"

    def describe_dutch(self) -> str:
        """'maandag tot en met vrijdag, 8.00 tot 18.00 uur': for the team, in local time."""
        return f"{describe_days_dutch(self.days)}, {_clock(self.start)} tot {_clock(self.end)} uur"
