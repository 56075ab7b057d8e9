"""Segment rules from `audiences/segments.toml`: who receives which mailing.

    [segments.statenleden]
    description = "Alle Statenleden: de maandelijkse nieuwsbrief"
    roles = ["statenlid"]

Each filter (roles, provinces, themes) selects contacts with any of the listed
values; a filter that is left out does not restrict. exclude_roles removes
contacts with any of those roles. Values are normalised on load, so a typo is a
reported problem rather than a segment that silently matches nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comms.domain import normalise_role, province_by_name, theme_by_name
from comms.problems import Problem
from comms.tomlfile import TomlFile, bare, closest

_FILTERS = ("roles", "provinces", "themes", "exclude_roles")
_KEYS = ("description", *_FILTERS)


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    description: str = ""
    roles: frozenset[str] = frozenset()  # role keys; any of them
    provinces: frozenset[str] = frozenset()  # Province.name; any of them
    themes: frozenset[str] = frozenset()  # Theme.id; any of them
    exclude_roles: frozenset[str] = frozenset()  # none of them


def load_segments(path: Path) -> tuple[dict[str, Segment], list[Problem]]:
    """Every segment that is entirely valid, and the problems of the others."""
    file = TomlFile(path)
    data = file.root
    if data is None:
        return {}, file.problems

    for key in data.unknown_keys(("segments",)):
        file.add(f"unknown key '{key}' (expected [segments.NAME] tables)", "", key, subject=key)
    tables = data.data.get("segments", {})
    if not isinstance(tables, dict):
        file.add("segments must be tables like [segments.NAME]")
        return {}, file.problems

    segments: dict[str, Segment] = {}
    for name, table in tables.items():
        where = f"segments.{bare(name)}"
        segment, reasons = _segment(name, table)
        for reason, concerns, needle in reasons:  # at the line of the key (the value), else the header
            file.add(reason, where, concerns, needle=needle, subject=name)
        if segment is not None:
            segments[name] = segment
    return segments, file.problems


# (reason, the key it concerns, the text of the value in the file)
_Reason = tuple[str, str | None, str | None]


def _segment(name: str, table: Any) -> tuple[Segment | None, list[_Reason]]:
    if not isinstance(table, dict):
        return None, [(f"must be a table like [segments.{name}]", None, None)]
    reasons: list[_Reason] = []
    for key in table:
        if key not in _KEYS:
            guess = closest(key, _KEYS)
            hint = f"did you mean '{guess}'? " if guess else ""
            reasons.append((f"unknown key '{key}' ({hint}expected one of: {', '.join(_KEYS)})", key, None))
    description = table.get("description", "")
    if not isinstance(description, str):
        reasons.append(("description must be text", "description", None))

    lookups: dict[str, tuple[Callable[[str], str | None], str]] = {
        "roles": (normalise_role, "role"),
        "provinces": (_province_name, "province"),
        "themes": (_theme_id, "theme"),
        "exclude_roles": (normalise_role, "role"),
    }
    values: dict[str, frozenset[str]] = {}
    for key, (lookup, what) in lookups.items():
        values[key], found = _normalise(table.get(key, []), key, lookup, what)
        reasons += found
    for role in sorted(values["roles"] & values["exclude_roles"]):
        reasons.append((f"role '{role}' is in both roles and exclude_roles", "exclude_roles", None))

    if reasons:
        return None, reasons
    return Segment(name=name, description=description, **values), []


def _normalise(
    raw: Any, key: str, lookup: Callable[[str], str | None], what: str
) -> tuple[frozenset[str], list[_Reason]]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        return frozenset(), [(f'{key} must be a list of text, e.g. {key} = ["..."]', key, None)]
    unknown: list[_Reason] = [
        (f"{key}: unknown {what} '{item}'", key, f'"{item}"') for item in raw if lookup(item) is None
    ]
    return frozenset(found for item in raw if (found := lookup(item))), unknown


def _province_name(text: str) -> str | None:
    province = province_by_name(text)
    return province.name if province else None


def _theme_id(text: str) -> str | None:
    theme = theme_by_name(text)
    return theme.id if theme else None
