"""schedules/*.toml: one scheduled job per file (the file stem is its name), read and checked.

Everything that can be known about a schedule's timing is checked here, for `comms check`:
cron syntax, dates that never come, sends outside the send window, a send without a build
(and time to approve it) before it, and two sends for one edition. The scheduler only runs
schedules that passed.

All times are Europe/Amsterdam wall-clock times. Summer time, as APScheduler 3 handles it
(with one correction, see WallClockCronTrigger):
- a time that does not exist (02:00-02:59 on the last Sunday of March) fires one hour later by
  the clock, at the same moment: "30 2 * * *" runs at 03:30 CEST that day, once;
- a time that happens twice (02:00-02:59 on the last Sunday of October) fires once, at the
  first (CEST) occurrence.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from comms import kinds
from comms.audience.segments import load_segments
from comms.config import _ADDRESS, Config
from comms.dates import AMSTERDAM, local, local_text, utcnow
from comms.kinds import MailingKind, Step
from comms.problems import Problem
from comms.send_window import SendWindow, describe_days, parse_days, parse_hours
from comms.tomlfile import Table, TomlFile, closest, join

STEPS: tuple[Step, ...] = (Step.BUILD, Step.SEND)  # a schedule file's [build] and [send]

HORIZON = timedelta(days=400)  # how far ahead windows, ordering and editions are checked
NEVER_HORIZON = timedelta(days=5 * 366)  # a cron without a run this far ahead never runs
_LOOK_BACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=400), NEVER_HORIZON)
_MAX_RUNS = 2000  # runs examined per check: a cron firing every minute must not take minutes
_TICK = timedelta(microseconds=1)

_LONG_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NUMERIC_WEEKDAYS = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")

# The tables and keys a schedule file may have; anything else is a typo to report.
_SHAPE: dict[str, tuple[str, ...]] = {
    "": ("kind", "audience", "template", "build", "approval", "send"),
    "build": ("cron", "stale_after_hours"),
    "approval": ("required", "deadline_hours", "notify"),
    "send": ("cron", "stale_after_hours", "window"),
    "send.window": ("days", "hours"),
}
_EXAMPLES = {  # what to add when a required key is missing
    "kind": 'a line like kind = "newsletter"',
    "audience": 'a line like audience = "statenleden"',
    "template": 'a line like template = "newsletter"',
    "cron": 'a line like cron = "0 9 1-7 * thu"',
}


# -- cron expressions -------------------------------------------------------------------


class WallClockCronTrigger(CronTrigger):
    """A CronTrigger that fires once per wall-clock time.

    On the autumn change APScheduler 3 fires a time in the repeated hour twice ("30 2 * * *"
    at 02:30 CEST and again at 02:30 CET); a job planned for 02:30 means once, so the second,
    CET occurrence (fold=1) is skipped. A spring-forward time that does not exist is left to
    APScheduler: it fires at the same moment, one hour later by the clock.
    """

    __slots__ = ()

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire = super().get_next_fire_time(previous_fire_time, now)
        while fire is not None and fire.astimezone(self.timezone).fold == 1:
            fire = super().get_next_fire_time(fire, fire)
        return fire


def normalise_cron(expression: str) -> str:
    """The expression in lower case, single-spaced, with day-of-week numbers as names.

    APScheduler 3 quirk: `CronTrigger.from_crontab` reads day-of-week 0 as Monday, while
    crontab, which the team writes, has 0 and 7 = Sunday. Names mean the same to both, so
    numbers become names before APScheduler sees them. Raises ValueError for a bad weekday.
    """
    fields = expression.lower().split()
    if len(fields) == 5:  # otherwise APScheduler reports the field count
        fields[4] = _weekdays(fields[4])
    return " ".join(fields)


def _weekdays(field: str) -> str:
    days: set[int] = set()
    names: list[str] = []
    for token in field.split(","):
        numbers = _crontab_days(token)
        if numbers is None:
            names.append(token)
        else:
            days |= numbers
    return ",".join([describe_days(days)] * bool(days) + names)


def _crontab_days(token: str) -> set[int] | None:
    """The days (0 = Monday) a numeric crontab token means; None for '*' and names."""
    found = _NUMERIC_WEEKDAYS.match(token)
    if token == "*" or not found:
        return None  # names (and mistakes in them) are APScheduler's to read
    first, last, step = found.groups()
    if first == "*":
        start, end = (0, 6) if last is None else (1, 0)  # "*-3" is not valid
    else:
        start = int(first)
        end = int(last) if last else (7 if step else start)  # "1/2" is 1-7/2, as in crontab
    if not 0 <= start <= end <= 7 or step == "0":
        raise ValueError(
            f"day-of-week {token!r} is not valid: crontab numbers the days 0-7 "
            "(0 and 7 are Sunday, 1 is Monday) and a range goes upwards; names such as mon-fri work too"
        )
    return {(n - 1) % 7 for n in range(start, end + 1, int(step or 1))}


def cron_trigger(cron: str, end: datetime | None = None) -> CronTrigger:
    """A trigger for a normalised expression, in Europe/Amsterdam; raises ValueError if invalid."""
    trigger = WallClockCronTrigger.from_crontab(cron, timezone=AMSTERDAM)
    trigger.end_date = end  # bounds the search: an impossible date ends here, not in the year 9999
    return trigger


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`, as aware UTC."""
    fire = trigger.get_next_fire_time(None, after.astimezone(UTC) + _TICK)
    return fire.astimezone(UTC) if fire else None


def fires_between(cron: str, start: datetime, end: datetime, limit: int = _MAX_RUNS) -> list[datetime]:
    """Fire times strictly after start and before end (UTC), at most `limit` of them."""
    trigger, fires, moment = cron_trigger(cron, end), list[datetime](), start
    while len(fires) < limit and (fire := next_fire(trigger, moment)) is not None and fire < end:
        fires.append(moment := fire)
    return fires


# -- the schedule -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    path: Path
    kind: MailingKind
    audience: str
    template: str
    build_cron: str  # normalised (normalise_cron): means the same to crontab and APScheduler
    send_cron: str
    build_stale_after: timedelta
    send_stale_after: timedelta
    approval_required: bool
    approval_deadline: timedelta  # approval is needed this long before the send
    notify: tuple[str, ...]  # empty: the [team] addresses of comms.toml
    window: SendWindow

    @property
    def steps(self) -> tuple[Step, ...]:
        """The cron steps this schedule runs: its [build] and [send], as far as its kind has them."""
        return tuple(step for step in STEPS if step in self.kind.steps)

    def cron(self, step: Step) -> str:
        return self.build_cron if step == Step.BUILD else self.send_cron

    def stale_after(self, step: Step) -> timedelta:
        return self.build_stale_after if step == Step.BUILD else self.send_stale_after

    def trigger(self, step: Step) -> CronTrigger:
        return cron_trigger(self.cron(step))

    def next_runs(self, step: Step, after: datetime, count: int) -> list[datetime]:
        """The next `count` runs strictly after `after`, as aware UTC."""
        trigger, runs, moment = self.trigger(step), list[datetime](), after
        while len(runs) < count and (run := next_fire(trigger, moment)) is not None:
            runs.append(moment := run)
        return runs

    def previous_run_before(self, step: Step, moment: datetime) -> datetime | None:
        """The last run strictly before `moment` (within five years), as aware UTC.

        APScheduler 3 only counts forward, so look back over growing spans until one has a run.
        """
        for span in _LOOK_BACK:
            if runs := fires_between(self.cron(step), moment - span - _TICK, moment, limit=10 * _MAX_RUNS):
                return runs[-1]
        return None

    def previous_send_before(self, moment: datetime) -> datetime | None:
        return self.previous_run_before(Step.SEND, moment)

    def next_send_after(self, moment: datetime) -> datetime | None:
        runs = self.next_runs(Step.SEND, moment, 1)
        return runs[0] if runs else None

    def approval_due(self, send: datetime) -> datetime | None:
        """When the edition for this send must be approved; None if no approval is required."""
        return send - self.approval_deadline if self.approval_required else None

    @property
    def fingerprint(self) -> str:
        """Changes when anything that affects timing changes; the same in every process."""
        timing = [
            self.build_cron,
            self.send_cron,
            self.build_stale_after.total_seconds(),
            self.send_stale_after.total_seconds(),
            self.approval_required,
            self.approval_deadline.total_seconds(),
            self.window.describe(),
        ]
        return hashlib.sha256(json.dumps(timing).encode()).hexdigest()[:12]


def _day_and_time(moment: datetime) -> str:
    """'Saturday 2027-01-02 09:00 CET'."""
    return f"{_LONG_DAY_NAMES[local(moment).weekday()]} {local_text(moment)}"


# -- loading ----------------------------------------------------------------------------


def load_schedules(
    directory: Path, segments: set[str], templates: set[str], now: datetime | None = None
) -> tuple[list[Schedule], list[Problem]]:
    """The valid schedules, and every problem of every file; checks look ahead from `now`."""
    now = now or utcnow()
    files = [TomlFile(path, _EXAMPLES) for path in sorted(directory.glob("*.toml"))]
    loaded = [(file, _load(file, segments, templates, now)) for file in files]
    complete = [(file, s) for file, s in loaded if s is not None]
    _check_editions(complete, now)
    problems = [p for file in files for p in file.problems]
    return [s for file, s in complete if not file.problems], problems


def _load(file: TomlFile, segments: set[str], templates: set[str], now: datetime) -> Schedule | None:
    data = file.root
    if data is None:
        return None
    _check_keys(data)
    build, approval, send = (_table(data, name) for name in ("build", "approval", "send"))
    window = _window(_table(send, "window"))
    kind = _kind(_name(data, "kind", set(kinds.all_keys()), "kinds"))
    audience = _name(data, "audience", segments, "segments in the segments file")
    template = _name(data, "template", templates, "folders in templates/ with an email.mjml")
    crons = {step: _cron(table, step, now) for step, table in zip(STEPS, (build, send), strict=True)}
    schedule = _schedule(file, (build, approval, send), (kind, audience, template), crons, window)
    if schedule is not None:  # even with an unknown audience: report every problem at once
        _check_timing(file, schedule, now)
    return schedule


def _kind(name: str | None) -> MailingKind | None:
    """The kind named, or None when it is unknown (reported by _name). Without a kind there is no
    schedule to check the timing of: those problems are reported once the kind is corrected."""
    try:
        return kinds.find(name) if name is not None else None
    except kinds.UnknownKind:
        return None


def _schedule(
    file: TomlFile,
    tables: tuple[Table, ...],
    names: tuple[MailingKind | str | None, ...],
    crons: dict[Step, str | None],
    window: SendWindow | None,
) -> Schedule | None:
    build, approval, send = tables
    values: dict[str, Any] = {
        **dict(zip(("kind", "audience", "template"), names, strict=True)),
        "build_cron": crons[Step.BUILD],
        "send_cron": crons[Step.SEND],
        "build_stale_after": _hours(build, "stale_after_hours", 24, positive=True),
        "send_stale_after": _hours(send, "stale_after_hours", 2, positive=True),
        "approval_required": approval.get("required", bool, True),
        "approval_deadline": _hours(approval, "deadline_hours", 24, positive=False),
        "notify": _notify(approval),
        "window": window,
    }
    if any(value is None for value in values.values()):
        return None
    return Schedule(name=file.path.stem, path=file.path, **values)


# -- reading values ---------------------------------------------------------------------


def _check_keys(table: Table) -> None:
    """Keys and tables that _SHAPE does not list are typos: reported in name order."""
    expected = _SHAPE[table.name]
    for key in sorted(table.unknown_keys(expected)):
        is_table = isinstance(table.data[key], dict)
        what = f"table [{join(table.name, key)}]" if is_table else _key_name(table.name, key)
        guess = closest(key, expected)
        hint = f"did you mean '{guess}'? " if guess else ""
        table.add(f"unknown {what}: {hint}(known: {', '.join(expected)})", key)


def _key_name(table: str, key: str) -> str:
    return f"key '{key}' in [{table}]" if table else f"key '{key}'"


def _table(parent: Table, key: str) -> Table:
    """The table `key` in parent; empty when absent or not a table (reported). Unknown keys are reported."""
    table = parent.table(key) or Table(parent.file, {}, join(parent.name, key))
    _check_keys(table)
    return table


def _name(data: Table, key: str, known: set[str], what: str) -> str | None:
    """The name, also when unknown (reported), so the timing checks still run."""
    value = data.get(key, str)
    if value is not None and value not in known:
        listed = ", ".join(sorted(known)) or "none"
        data.add(f"unknown {key} {value!r}: use one of the {what} ({listed})", key)
    return value


def _hours(table: Table, key: str, default: float, *, positive: bool) -> timedelta | None:
    hours = table.get(key, float, default)
    if hours is None:
        return None
    if hours < 0 or (positive and hours == 0):
        rule = "more than 0" if positive else "0 or more"
        table.add(f"{table.label(key)} must be {rule} hours, not {hours}", key)
        return None
    return timedelta(hours=hours)


def _notify(approval: Table) -> tuple[str, ...]:
    """The valid addresses; the others are reported (and the schedule with them)."""
    addresses = approval.get("notify", list, []) or []
    valid = tuple(a for a in addresses if isinstance(a, str) and _ADDRESS.match(a))
    for address in addresses:
        if address not in valid:
            approval.add(f"[approval] notify: {address!r} is not an e-mail address", "notify")
    return valid


def _window(window: Table) -> SendWindow | None:
    days = parse_days(window.data.get("days", "mon-fri"))
    if days is None:
        window.add(
            f'[send.window] days {window.data["days"]!r} is not valid: write "mon-fri", "mon,wed,fri", '
            '["mon", "tue"] or "mon-sun" for every day',
            "days",
        )
    text = window.data.get("hours", "08:00-18:00")
    hours = parse_hours(text) if isinstance(text, str) else None
    if hours is None:
        window.add(f'[send.window] hours {text!r} is not valid: write it like "08:00-18:00"', "hours")
    elif hours[0] >= hours[1]:
        reason = (
            f"[send.window] hours {text!r}: the start must be before the end (a window cannot pass midnight)"
        )
        window.add(reason, "hours")
        hours = None
    return SendWindow(days, *hours) if days and hours else None


def _cron(table: Table, step: Step, now: datetime) -> str | None:
    expression = table.get("cron", str)
    if expression is None:
        return None
    try:
        cron = normalise_cron(expression)
        cron_trigger(cron)
    except ValueError as exc:
        # No line number: the reason names [step] cron, and tests/test_cli.py pins "file: [send] cron …".
        table.file.add(
            f"[{step}] cron {expression!r} is not valid: {exc}; "
            "write 5 fields, minute hour day-of-month month day-of-week, like '0 9 1-7 * thu'"
        )
        return None
    if not fires_between(cron, now, now + NEVER_HORIZON, limit=1):
        table.add(
            f"[{step}] cron {expression!r} never runs: no date in the next five years matches it "
            "(a day that does not exist, such as 30 or 31 February?); correct the day and month",
            "cron",
        )
        return None
    return cron


# -- timing checks ----------------------------------------------------------------------


def _check_timing(source: TomlFile, schedule: Schedule, now: datetime) -> None:
    sends = fires_between(schedule.send_cron, now, now + HORIZON)
    _check_window(source, schedule, sends)
    _check_order(source, schedule, sends)


def _check_window(source: TomlFile, schedule: Schedule, sends: list[datetime]) -> None:
    outside = next((send for send in sends if not schedule.window.allows(send)), None)
    if outside is not None:
        source.add(
            f"send at {_day_and_time(outside)} is outside the send window {schedule.window.describe()}: "
            "change [send] cron or [send.window]",
            "send",
            "cron",
        )


def _check_order(source: TomlFile, schedule: Schedule, sends: list[datetime]) -> None:
    """Every send needs a build after the previous send and early enough to approve it."""
    previous = schedule.previous_send_before(sends[0]) if sends else None
    for send in sends:
        lower = previous or send - NEVER_HORIZON
        due = schedule.approval_due(send) or send
        build = next(iter(fires_between(schedule.build_cron, lower, due, limit=1)), None)
        if build is None:
            source.add(_order_reason(schedule, send, previous, due), "build", "cron")
            return
        previous = send


def _order_reason(schedule: Schedule, send: datetime, previous: datetime | None, due: datetime) -> str:
    since = f"after the previous send ({local_text(previous)}) " if previous else ""
    if schedule.approval_required:
        until = f"before the approval deadline {local_text(due)}"
        fix = "make [build] cron run earlier or lower [approval] deadline_hours"
    else:
        until = "before it"
        fix = "make [build] cron run earlier"
    return f"send at {_day_and_time(send)} has no build {since}{until}: {fix}"


def _check_editions(loaded: list[tuple[TomlFile, Schedule]], now: datetime) -> None:
    """One send per edition, within a schedule and across schedules of the same kind (for kinds
    with one edition per period; agenda notices and survey mailings have one per event)."""
    told: set[str] = set()
    for kind in kinds.every():
        key_format = kind.period_format
        if key_format is None:
            continue
        editions: dict[str, list[tuple[datetime, TomlFile]]] = defaultdict(list)
        for source, schedule in loaded:
            if schedule.kind is kind:
                for send in fires_between(schedule.send_cron, now, now + HORIZON):
                    editions[local(send).strftime(key_format)].append((send, source))
        for edition, sends in sorted(editions.items()):
            if len(sends) > 1:
                involved = list({source.where: source for _, source in sends}.values())
                reason = _overlap_reason(kind, edition, sends, involved)
                for source in involved:
                    if source.where not in told:  # the first clash per file is enough to act on
                        source.add(reason, "send", "cron")
                told.update(source.where for source in involved)


def _overlap_reason(
    kind: MailingKind, edition: str, sends: list[tuple[datetime, TomlFile]], involved: list[TomlFile]
) -> str:
    shown = [f"{local_text(send)} ({source.path.name})" for send, source in sorted(sends, key=_first)[:3]]
    more = f" and {len(sends) - 3} more" if len(sends) > 3 else ""
    times = " and ".join(shown) + more
    if len(involved) == 1:
        return (
            f"{involved[0].where} sends the {kind.key} edition {edition} more than once: {times}; "
            "one send per edition: change [send] cron"
        )
    files = " and ".join(source.where for source in involved)
    return (
        f"{files} {'both' if len(involved) == 2 else 'all'} send the {kind.key} edition {edition}: {times}; "
        "one send per edition: change a [send] cron or remove one of the schedules"
    )


def _first(pair: tuple[datetime, TomlFile]) -> datetime:
    return pair[0]


def schedules_of(config: Config, now: datetime | None = None) -> tuple[list[Schedule], list[Problem]]:
    """The project's schedule files, checked against its segments and templates (no database)."""
    segments, problems = load_segments(config.resolve(config.segments_file))
    templates = {p.parent.name for p in config.resolve(config.templates_dir).glob("*/email.mjml")}
    schedules, found = load_schedules(config.resolve(config.schedules_dir), set(segments), templates, now)
    return schedules, problems + found
