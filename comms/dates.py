"""Dates and times as Dutch readers expect them, in Europe/Amsterdam.

Stored values are aware UTC; everything shown is converted here, so summer
time is handled in one place.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_date

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local(moment: datetime) -> datetime:
    return moment.astimezone(AMSTERDAM)


def long_date(moment: datetime | date) -> str:
    """'dinsdag 14 mei 2024'."""
    day = local(moment).date() if isinstance(moment, datetime) else moment
    return format_date(day, "EEEE d MMMM y", locale="nl")


def short_date(moment: datetime | date) -> str:
    """'14 mei 2024'."""
    day = local(moment).date() if isinstance(moment, datetime) else moment
    return format_date(day, "d MMMM y", locale="nl")


def time_of_day(moment: datetime) -> str:
    """'8.30 uur', the Dutch house style (no leading zero, a dot, 'uur')."""
    moment = local(moment)
    return f"{moment.hour}.{moment.minute:02d} uur"


def date_and_time(moment: datetime) -> str:
    """'dinsdag 14 mei 2024 om 8.30 uur'."""
    return f"{long_date(moment)} om {time_of_day(moment)}"


def month_name(year: int, month: int) -> str:
    """'december 2026'."""
    return format_date(date(year, month, 1), "MMMM y", locale="nl")


def time_range(start: datetime, end: datetime | None) -> str:
    """'9.30 – 11.00 uur', or '9.30 uur' without an end."""
    if end is None or local(end).date() != local(start).date():
        return time_of_day(start)
    first = local(start)
    return f"{first.hour}.{first.minute:02d} – {time_of_day(end)}"


def local_text(moment: datetime) -> str:
    """'2027-03-28 09:00 CEST': for the operator, with the zone that was in force."""
    return f"{local(moment):%Y-%m-%d %H:%M %Z}"


def start_of_day(day: date) -> datetime:
    """Local midnight at the start of `day`, as aware UTC."""
    return datetime.combine(day, time(), AMSTERDAM).astimezone(UTC)
