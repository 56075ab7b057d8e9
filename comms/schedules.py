"""schedules/*.toml: one scheduled job per file, validated for `comms check`.

The scheduler that runs them comes with `comms serve`; this module only reads
and checks the files, so a broken schedule is found before it is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger

from comms.dates import AMSTERDAM
from comms.problems import Problem
from comms.tomlfile import read_toml

KINDS = ("newsletter",)
_STEPS = ("build", "send")


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    kind: str
    audience: str
    template: str
    build_cron: str
    send_cron: str
    approval_required: bool


def load_schedules(
    directory: Path, segments: set[str], templates: set[str]
) -> tuple[list[Schedule], list[Problem]]:
    schedules: list[Schedule] = []
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.toml")):
        schedule, found = _load(path, segments, templates)
        problems += found
        if schedule:
            schedules.append(schedule)
    return schedules, problems


def _load(path: Path, segments: set[str], templates: set[str]) -> tuple[Schedule | None, list[Problem]]:
    where = str(path)
    _, raw, problems = read_toml(path)
    if raw is None:
        return None, problems
    kind = raw.get("kind")
    if kind not in KINDS:
        problems.append(Problem(where, f"kind must be one of {', '.join(KINDS)}, got {kind!r}"))
    if raw.get("audience") not in segments:
        problems.append(
            Problem(
                where,
                f"unknown audience {raw.get('audience')!r} (segments: {', '.join(sorted(segments))})",
            )
        )
    if raw.get("template") not in templates:
        problems.append(
            Problem(
                where,
                f"unknown template {raw.get('template')!r} (templates: {', '.join(sorted(templates))})",
            )
        )
    for step in _STEPS:
        expression = raw.get(step, {}).get("cron") if isinstance(raw.get(step), dict) else None
        if not expression:
            problems.append(Problem(where, f"[{step}] needs a cron expression"))
            continue
        try:
            CronTrigger.from_crontab(expression, timezone=AMSTERDAM)
        except ValueError as exc:
            problems.append(Problem(where, f"[{step}] cron {expression!r} is not valid: {exc}"))
    if problems:
        return None, problems
    return Schedule(
        name=path.stem,
        kind=kind,
        audience=raw["audience"],
        template=raw["template"],
        build_cron=raw["build"]["cron"],
        send_cron=raw["send"]["cron"],
        approval_required=bool(raw.get("approval", {}).get("required", True)),
    ), []
