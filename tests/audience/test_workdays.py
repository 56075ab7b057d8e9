"""Dutch public holidays (the Algemene termijnenwet's list) and closed days are no working days."""

from __future__ import annotations

from datetime import date

import pytest

from comms.audience.workdays import Workdays, holiday_name


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 12, 25), "Eerste kerstdag"),
        (date(2026, 12, 26), "Tweede kerstdag"),
        (date(2027, 1, 1), "Nieuwjaarsdag"),
        (date(2027, 3, 29), "Tweede paasdag"),
        (date(2027, 4, 27), "Koningsdag"),
        (date(2025, 4, 26), "Koningsdag"),  # the 27th is a Sunday: the Saturday before
        (date(2031, 4, 26), "Koningsdag"),  # likewise
        (date(2027, 5, 5), "Bevrijdingsdag"),  # every year, not only in lustrum years
        (date(2030, 5, 5), "Bevrijdingsdag"),
        (date(2027, 5, 6), "Hemelvaartsdag"),
        (date(2027, 5, 17), "Tweede pinksterdag"),
        (date(2027, 3, 26), None),  # Goede Vrijdag: not in the law, offices open
        (date(2025, 4, 28), None),
        (date(2025, 4, 27), None),  # a Sunday, no holiday of its own that year
        (date(2026, 12, 24), None),
    ],
)
def test_public_holidays(day: date, name: str | None) -> None:
    assert holiday_name(day) == name


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (date(2026, 12, 23), True, None),
        (date(2026, 12, 24), False, "closed"),
        (date(2026, 12, 25), False, "Eerste kerstdag"),
        (date(2026, 12, 27), False, "Sunday"),
        (date(2027, 3, 26), True, None),
    ],
)
def test_working_days(day: date, working: bool, why: str | None) -> None:
    days = Workdays(closed=frozenset({date(2026, 12, 24)}))
    assert (days.is_working(day), days.why_not(day)) == (working, why)
