"""One source, start to end: fetch, parse, and a SourceResult that never raises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from comms.collect.calendar import parse_calendar
from comms.collect.feeds import parse_feed
from comms.collect.fetch import Fetched, fetch
from comms.collect.items import CollectedItem, SourceResult, SourceState
from comms.config import SourceConfig
from comms.problems import Problem, Severity

Parser = Callable[[SourceConfig, bytes], tuple[list[CollectedItem], list[Problem]]]
PARSERS: dict[str, Parser] = {"feed": parse_feed, "ical": parse_calendar}


def collect_source(source: SourceConfig, state: SourceState, base_dir: Path) -> SourceResult:
    """Fetch and parse one source; whatever goes wrong ends up in `problems`."""
    refused = unknown_format(source, state)
    if refused is not None:
        return refused
    try:
        fetched = fetch(source, state, base_dir)
    except Exception as exc:  # a bug must not take the other sources down with it
        fetched = Fetched(None, state, problems=[_unexpected(source, "could not fetch", exc)])
    return parse_fetched(source, state, fetched)


def unknown_format(source: SourceConfig, state: SourceState) -> SourceResult | None:
    """The result for a source whose format has no parser (nothing is fetched), else None."""
    if source.format in PARSERS:
        return None
    expected = " or ".join(f"'{name}'" for name in PARSERS)
    reason = f"unknown format '{source.format}' (expected {expected})"
    return SourceResult(source, problems=[Problem(source.name, reason)], state=state)


def parse_fetched(source: SourceConfig, state: SourceState, fetched: Fetched) -> SourceResult:
    """Parse what was fetched for `source` (fetched with the validators in `state`)."""
    parser = PARSERS[source.format]
    result = SourceResult(
        source,
        problems=list(fetched.problems),
        state=fetched.state,
        not_modified=fetched.not_modified,
    )
    if fetched.body is None:
        return result
    try:
        items, problems = parser(source, fetched.body)
    except Exception as exc:
        items, problems = [], [_unexpected(source, "could not parse", exc)]
    result.items = _unique(source, items, problems)
    result.problems += problems
    if result.is_broken:
        # Forget the new validators: the next run fetches the whole source again and
        # reports it again, instead of hearing "not modified" about a broken feed.
        result.state = state
    return result


def _unexpected(source: SourceConfig, what: str, exc: Exception) -> Problem:
    detail = str(exc) or type(exc).__name__
    return Problem(source.name, f"{what}: {detail}")


def _unique(source: SourceConfig, items: list[CollectedItem], problems: list[Problem]) -> list[CollectedItem]:
    """Items whose ledger identity is new; a repeat would be one item twice in a mailing."""
    seen: set[str] = set()
    unique: list[CollectedItem] = []
    for item in items:
        if item.identity in seen:
            problems.append(
                Problem(
                    source.name,
                    "left out: the same guid or link as an earlier entry",
                    subject=item.title,
                    severity=Severity.WARNING,
                )
            )
            continue
        seen.add(item.identity)
        unique.append(item)
    return unique
