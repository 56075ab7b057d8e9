"""Collect every configured source: news and events into the item ledger, meetings into the
meeting ledger; a broken source is skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from comms.collect.fetch import Fetched, Request, fetch_many
from comms.collect.items import SourceResult
from comms.collect.items import SourceState as Validators
from comms.collect.ledger import LedgerCounts, record_items
from comms.collect.meeting_ledger import (
    MeetingChange,
    MissingMeetings,
    known_meetings,
    note_missing,
    record_meetings,
)
from comms.collect.meetings import MEETING_FORMATS, parse_meeting_source
from comms.collect.meetings.merge import meeting_subject, merge_feeds
from comms.collect.meetings.model import MeetingFeed
from comms.collect.source import parse_fetched, unknown_format
from comms.config import Config, ItemKind, SourceConfig
from comms.problems import Problem, Severity
from comms.store.database import Database
from comms.store.models import SourceState


@dataclass
class CollectOutcome:
    per_source: dict[str, tuple[SourceResult, LedgerCounts]] = field(default_factory=dict)
    meetings: list[MeetingChange] = field(default_factory=list)  # one per meeting, after merging
    meeting_problems: list[Problem] = field(default_factory=list)  # across feeds: duplicates, gone
    missing: MissingMeetings = field(default_factory=MissingMeetings)  # left or returned to a feed

    @property
    def problems(self) -> list[Problem]:
        return [p for result, _ in self.per_source.values() for p in result.problems] + self.meeting_problems

    @property
    def failed_sources(self) -> list[str]:
        """The sources that could not be read at all (and were skipped)."""
        return [name for name, (result, _) in self.per_source.items() if result.is_broken]


@dataclass(slots=True)
class _MeetingRun:
    result: SourceResult
    feed: MeetingFeed

    @property
    def is_fresh(self) -> bool:
        """The source was read anew; otherwise the ledger stands in for it."""
        return not (self.result.not_modified or self.result.is_broken)


def collect_all(config: Config, db: Database, now: datetime) -> CollectOutcome:
    """Fetch every source at once (bounded, each within its deadline), then parse and record
    them one by one in the order of comms.toml."""
    outcome = CollectOutcome()
    meeting_runs: list[_MeetingRun] = []
    validators = _validators(config, db)
    refused = {source.name: _refused(source, validators[source.name]) for source in config.sources}
    wanted = [Request(s, validators[s.name]) for s in config.sources if refused[s.name] is None]
    fetched = dict(zip((r.source.name for r in wanted), _fetch_all(wanted, config), strict=True))
    for source in config.sources:
        state = validators[source.name]
        early = refused[source.name]
        if source.kind is ItemKind.MEETING:
            run = (
                _MeetingRun(early, MeetingFeed(source.name))
                if early
                else _meetings(source, state, fetched[source.name], now)
            )
            meeting_runs.append(run)
            outcome.per_source[source.name] = (run.result, LedgerCounts())  # counted once merged
            continue
        result = early or parse_fetched(source, state, fetched[source.name])
        with db.session() as session:
            counts = record_items(session, result.items, now) if not result.is_broken else LedgerCounts()
            _save_state(session, source.name, result, now)
        outcome.per_source[source.name] = (result, counts)
    if meeting_runs:
        _record_meetings(db, meeting_runs, now, outcome)
    return outcome


def _validators(config: Config, db: Database) -> dict[str, Validators]:
    """Each source's validators of its last good fetch (none for a new source)."""
    with db.session() as session:
        stored = {
            row.name: Validators(etag=row.etag, last_modified=row.last_modified)
            for row in session.scalars(select(SourceState))
        }
    return {source.name: stored.get(source.name, Validators()) for source in config.sources}


def _refused(source: SourceConfig, validators: Validators) -> SourceResult | None:
    """The result for a source that is not fetched at all (a format without a parser)."""
    if source.kind is not ItemKind.MEETING:
        return unknown_format(source, validators)
    if source.format in MEETING_FORMATS:
        return None
    expected = " or ".join(f"'{name}'" for name in MEETING_FORMATS)
    reason = f"unknown format '{source.format}' for meetings (expected {expected})"
    return SourceResult(source, problems=[Problem(source.name, reason)], state=validators)


def _fetch_all(requests: list[Request], config: Config) -> list[Fetched]:
    try:
        return fetch_many(requests, config.base_dir, config.collect)
    except Exception as exc:  # a bug must not take the sources' ledgers down with it
        return [
            Fetched(None, r.state, problems=[Problem(r.source.name, f"could not fetch: {exc}")])
            for r in requests
        ]


def _meetings(source: SourceConfig, validators: Validators, fetched: Fetched, now: datetime) -> _MeetingRun:
    """Parse one fetched meeting source; whatever goes wrong ends up in its problems."""
    feed = MeetingFeed(source.name)
    result = SourceResult(source, problems=list(fetched.problems), state=fetched.state)
    result.not_modified = fetched.not_modified
    if fetched.body is not None:
        try:
            feed = parse_meeting_source(fetched.body, source, now)
        except Exception as exc:
            feed.problems.append(Problem(source.name, f"could not parse: {str(exc) or type(exc).__name__}"))
        result.problems += feed.problems
    if result.is_broken:
        result.state = validators  # fetch it whole next time, and report it again
    return _MeetingRun(result, feed)


def _record_meetings(db: Database, runs: list[_MeetingRun], now: datetime, outcome: CollectOutcome) -> None:
    """Merge every meeting source, then record what was read anew.

    A source that was not modified or could not be read stands in with its meetings as the
    ledger has them: they take part in de-duplication (precedence stays the order of
    comms.toml) but are not recorded again, and their duplicates are not reported again.
    """
    fresh = {run.result.source.name for run in runs if run.is_fresh}
    with db.session() as session:
        for run in runs:
            if run.result.source.name not in fresh:
                run.feed.meetings = known_meetings(session, run.result.source.name, now)
        merged, problems = merge_feeds([run.feed for run in runs])
        meetings = [meeting for meeting in merged if meeting.source in fresh]
        outcome.meeting_problems = [problem for problem in problems if problem.where in fresh]
        outcome.meetings = record_meetings(session, meetings, now)
        read_in_full = {run.result.source.name for run in runs if _read_in_full(session, run, now)}
        listed = {meeting.uid for run in runs for meeting in run.feed.meetings}
        outcome.missing = note_missing(session, read_in_full, listed, now)
        outcome.meeting_problems += _missing_problems(runs, read_in_full, outcome.missing)
        # Validators only once the meetings are in: a crash before this fetches them again.
        for run in runs:
            _save_state(session, run.result.source.name, run.result, now)
    sources = {meeting.uid: meeting.source for meeting in meetings}
    tally = Counter((sources[change.uid], _column(change)) for change in outcome.meetings)
    for run in runs:
        name = run.result.source.name
        counts = LedgerCounts(
            new=tally[name, "new"], known=tally[name, "known"], updated=tally[name, "updated"]
        )
        outcome.per_source[name] = (run.result, counts)


def _read_in_full(session: Session, run: _MeetingRun, now: datetime) -> bool:
    """Whether the source's silence about a meeting means the meeting left it.

    Not when it was not read anew (failed, not modified), and not when a feed that used to
    list upcoming meetings lists none at all: an empty feed is far likelier a fault at the
    source than every meeting deleted at once (reported instead, see _missing_problems).
    """
    if not run.is_fresh:
        return False
    return bool(run.feed.meetings) or not known_meetings(session, run.result.source.name, now)


def _missing_problems(
    runs: list[_MeetingRun], read_in_full: set[str], missing: MissingMeetings
) -> list[Problem]:
    problems = [
        Problem(
            meeting.source,
            "no longer in its feed: its unsent notices are held and the team is told",
            subject=meeting_subject(meeting),
            severity=Severity.WARNING,
        )
        for meeting in missing.gone
    ]
    problems += [
        Problem(
            run.result.source.name,
            "the feed lists no meetings at all, while upcoming ones are known: taken as a fault of the "
            "feed, not as deletions; check the source",
            severity=Severity.WARNING,
        )
        for run in runs
        if run.is_fresh and run.result.source.name not in read_in_full
    ]
    return problems


def _column(change: MeetingChange) -> str:
    """Where `comms collect` counts a meeting: a first sighting is new, even when cancelled."""
    if change.kind == "unchanged":
        return "known"
    return "new" if change.version == 1 else "updated"


def _save_state(session: Session, name: str, result: SourceResult, now: datetime) -> None:
    state = session.get(SourceState, name) or SourceState(name=name)
    if not result.is_broken:
        # Keep the old validators when the fetch failed, so the next one is still conditional.
        state.etag = result.state.etag
        state.last_modified = result.state.last_modified
    state.fetched_at = now
    state.outcome = "; ".join(str(p) for p in result.problems if p.is_error) or "ok"
    session.add(state)
