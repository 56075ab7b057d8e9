"""What changed between two versions of a meeting, in Dutch sentences for its recipients."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from comms.dates import local, long_date, time_of_day

if TYPE_CHECKING:  # model.py imports this module: Meeting.changes_from is changes_between
    from comms.collect.meetings.model import AgendaItem, Meeting

CANCELLED_SENTENCE = "De vergadering is geannuleerd."
START_CHANGED = "Aanvang gewijzigd"


def is_moved(old: Meeting, new: Meeting) -> bool:
    """The meeting moved to another day (Dutch time); a new hour on the same day is a change."""
    return local(old.starts_at).date() != local(new.starts_at).date()


def moved_sentence(old: Meeting, new: Meeting) -> str:
    """'verplaatst van woensdag 16 december 2026 10.00 uur naar donderdag 17 december 2026 14.00 uur'."""
    return f"verplaatst van {_moment(old.starts_at, old.all_day)} naar {_moment(new.starts_at, new.all_day)}"


def changes_between(old: Meeting, new: Meeting) -> list[str]:
    """What a recipient of the old version should know about the new one; [] when nothing."""
    return [
        *_status_changes(old, new),
        *_time_changes(old, new),
        *_text_changes(old, new),
        *_agenda_changes(old.items, new.items),
    ]


def _status_changes(old: Meeting, new: Meeting) -> list[str]:
    if new.is_cancelled and not old.is_cancelled:
        return [CANCELLED_SENTENCE]
    if old.is_cancelled and not new.is_cancelled:
        return ["De annulering is ingetrokken: de vergadering gaat door."]
    if old.status is not new.status:
        return [f"Status gewijzigd: van {old.status.label} naar {new.status.label}"]
    return []


def _time_changes(old: Meeting, new: Meeting) -> list[str]:
    sentences = []
    if (old.starts_at, old.all_day) != (new.starts_at, new.all_day):
        sentences.append(
            f"{START_CHANGED}: van {_moment(old.starts_at, old.all_day)} "
            f"naar {_moment(new.starts_at, new.all_day)}"
        )
    if old.ends_at != new.ends_at:
        before, after = _end(old), _end(new)
        if before is None:
            sentences.append(f"Eindtijd toegevoegd: {after}")
        elif after is None:
            sentences.append(f"Eindtijd vervallen (was {before})")
        else:
            sentences.append(f"Einde gewijzigd: van {before} naar {after}")
    return sentences


def _moment(moment: datetime, all_day: bool) -> str:
    if all_day:
        return f"{long_date(moment)} (tijd nog niet bekend)"
    return f"{long_date(moment)} {time_of_day(moment)}"


def _end(meeting: Meeting) -> str | None:
    # The time alone when the meeting ends on the day it starts, as the agenda says it.
    if meeting.ends_at is None:
        return None
    if long_date(meeting.ends_at) == long_date(meeting.starts_at):
        return time_of_day(meeting.ends_at)
    return _moment(meeting.ends_at, all_day=False)


def _text_changes(old: Meeting, new: Meeting) -> list[str]:
    sentences = []
    if old.location != new.location:
        if not old.location:
            sentences.append(f"Locatie toegevoegd: {new.location}")
        elif not new.location:
            sentences.append(f"Locatie vervallen (was: {old.location})")
        else:
            sentences.append(f"Locatie gewijzigd: van {old.location} naar {new.location}")
    if old.title != new.title:
        sentences.append(f"Titel gewijzigd: van {old.title} naar {new.title}")
    if old.body != new.body:
        sentences.append(f"Orgaan gewijzigd: van {old.body_name} naar {new.body_name}")
    if old.url != new.url:
        sentences.append(f"Vergaderpagina gewijzigd: {new.url}" if new.url else "Vergaderpagina vervallen")
    return sentences


def _agenda_changes(old: tuple[AgendaItem, ...], new: tuple[AgendaItem, ...]) -> list[str]:
    """Items are paired by title first (so a renumbering is not a dozen changes), then by number."""
    pairs, added, removed = _pair_items(old, new)
    lines: list[tuple[tuple, str]] = []
    for before, after in pairs:
        key = _number_key(after.number)
        if (before.title, before.description) != (after.title, after.description):
            lines.append((key, f"Agendapunt {after.number} gewijzigd: {after.title}"))
        if before.documents != after.documents:
            lines.append((key, f"Stukken bij agendapunt {after.number} gewijzigd"))
    lines += [(_number_key(i.number), f"Agendapunt {i.number} toegevoegd: {i.title}") for i in added]
    lines += [(_number_key(i.number), f"Agendapunt {i.number} vervallen: {i.title}") for i in removed]
    sentences = [text for _, text in sorted(lines, key=lambda line: line[0])]
    if any(before.number != after.number for before, after in pairs):
        sentences.append("De nummering van de agendapunten is gewijzigd.")
    elif not sentences and old != new:
        sentences.append("De volgorde van de agendapunten is gewijzigd.")
    return sentences


def _pair_items(
    old: tuple[AgendaItem, ...], new: tuple[AgendaItem, ...]
) -> tuple[list[tuple[AgendaItem, AgendaItem]], list[AgendaItem], list[AgendaItem]]:
    """Pairs (old, new), then the new items left over (added) and the old ones (removed)."""
    left, right = list(old), list(new)
    pairs = []
    for key in (_title_key, _number_of):
        before, after = _unique_index(left, key), _unique_index(right, key)
        for found in [k for k in after if k in before]:
            pairs.append((before[found], after[found]))
            left.remove(before[found])
            right.remove(after[found])
    return pairs, right, left


def _title_key(item: AgendaItem) -> str:
    return item.title.casefold()


def _number_of(item: AgendaItem) -> str:
    return item.number


def _unique_index(items: list[AgendaItem], key: Callable[[AgendaItem], str]) -> dict[str, AgendaItem]:
    """Items by key, leaving out keys that occur twice: those cannot be paired with certainty."""
    keys = [key(item) for item in items]
    return {k: item for k, item in zip(keys, items, strict=True) if keys.count(k) == 1}


def _number_key(number: str) -> tuple:
    """Natural order: 2 < 4a < 10."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", number)
    )
