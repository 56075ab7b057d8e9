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
    runs: list[list[int]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}" if len(run) > 2 else ",".join(DAY_NAMES[d] for d in run)
        for run in runs
    ]
    return ",".join(parts)


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
