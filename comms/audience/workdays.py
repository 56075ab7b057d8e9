"""Which days a province's offices work: weekdays, minus Dutch public holidays and its closed days.

Public holidays are those of the Algemene termijnenwet (art. 3), the list Dutch government
bodies keep for deadlines: Nieuwjaarsdag, Tweede Paasdag, Koningsdag (27 April, 26 April
when the 27th is a Sunday), Bevrijdingsdag (5 May, every year), Hemelvaartsdag, Tweede
Pinksterdag and both Kerstdagen. They come from the `holidays` package (holidays.NL), with
two corrections, because its public list differs from the law:

- Goede Vrijdag is left out: it is no public holiday in the law, and most provincial
  offices are open. A province that closes lists it in `closed` (audiences/gs-calendar.toml).
- Bevrijdingsdag is added for every year: holidays.NL lists it as public only in lustrum
  years (2025, 2030, …), as a day off in many collective agreements; the law counts it always.
  Treating it as closed only moves a notice a day earlier, never past a GS deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays

_NOT_IN_THE_LAW = "goede vrijdag"
_LIBERATION_DAY = "Bevrijdingsdag"


@lru_cache(maxsize=64)
def public_holidays(year: int) -> dict[date, str]:
    """The public holidays of `year`: date → Dutch name ("Eerste kerstdag")."""
    found = holidays.NL(years=year, language="nl")
    days = {day: str(name) for day, name in found.items() if str(name).casefold() != _NOT_IN_THE_LAW}
    days.setdefault(date(year, 5, 5), _LIBERATION_DAY)
    return days


def holiday_name(day: date) -> str | None:
    return public_holidays(day.year).get(day)


@dataclass(frozen=True, slots=True)
class Workdays:
    """A province's working days: `weekdays` (0 = Monday), except public holidays and `closed`."""

    weekdays: frozenset[int] = frozenset(range(5))
    closed: frozenset[date] = frozenset()

    def is_working(self, day: date) -> bool:
        return day.weekday() in self.weekdays and day not in self.closed and holiday_name(day) is None

    def why_not(self, day: date) -> str | None:
        """Why `day` is not a working day ("Eerste kerstdag", "closed", "Saturday"); None if it is."""
        if (name := holiday_name(day)) is not None:
            return name
        if day in self.closed:
            return "closed"
        if day.weekday() not in self.weekdays:
            return _DAY_NAMES[day.weekday()]
        return None


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
