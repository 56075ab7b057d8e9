"""Counts and moments in Dutch, as the team reads them: "1 ontvanger", "2 ontvangers",
"1.234", "dinsdag 1 december 2026, 9.00 uur"."""

from __future__ import annotations

from datetime import datetime

from babel.numbers import format_decimal

from comms.dates import long_date, time_of_day

LOCAL_TIME = "Nederlandse tijd"


def number(n: int) -> str:
    """'1.234': thousands grouped with a dot."""
    return format_decimal(n, locale="nl")


def counted(n: int, one: str, many: str) -> str:
    """'1 ontvanger', '0 ontvangers', '2 ontvangers': the noun agrees with the count."""
    return f"{number(n)} {one if n == 1 else many}"


def verb(n: int, one: str, many: str) -> str:
    """The verb that agrees with a count: 'heeft' for 1, 'hebben' otherwise."""
    return one if n == 1 else many


def moment(at: datetime) -> str:
    """'dinsdag 1 december 2026, 9.00 uur' (Europe/Amsterdam)."""
    return f"{long_date(at)}, {time_of_day(at)}"


def share(part: int, whole: int) -> str:
    """'12,5%' of the whole; '–' when there is no whole."""
    if whole <= 0:
        return "–"
    return format_decimal(100 * part / whole, format="#,##0.#", locale="nl") + "%"
