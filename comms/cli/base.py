"""What every command shares: the `comms` group, output, and how failures are shown.

Exit codes: 0 ok, 1 validation error (every problem listed with file, line or row, and
reason), 2 usage error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec

import click
from rich.console import Console
from rich.text import Text

from comms import logs
from comms.config import DEFAULT_CONFIG, Config, load_config
from comms.dates import local
from comms.errors import CommsError
from comms.problems import Problem, ValidationFailed
from comms.service import Service
from comms.store.actors import is_schedule

P = ParamSpec("P")
# Wide when piped, so tables in logs and tests are not squeezed to 80 columns.
_WIDTH = None if sys.stdout.isatty() else 200
# markup=False: what we print quotes user input ("[send]", "<b>"); rich must not read it as markup.
out = Console(highlight=False, markup=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True, width=_WIDTH)


class Failed(click.ClickException):
    """A validation error: the problems are printed, the exit code is 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        err.print(Text.assemble(("error:", "bold red"), f" {self.message}"))


def report(problems: Iterable[Problem]) -> None:
    for problem in problems:
        label = ("error", "red") if problem.is_error else ("warning", "yellow")
        err.print(Text.assemble(label, f": {problem}"))


def handles_failures(command: Callable[P, None]) -> Callable[P, None]:
    """Turn the service's errors into clear messages and exit code 1."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except ValidationFailed as exc:
            report(exc.problems)
            errors = sum(1 for p in exc.problems if p.is_error)
            raise Failed(f"{errors} problem(s) found; nothing was sent") from exc
        except CommsError as exc:
            raise Failed(str(exc)) from exc

    return wrapper


def _check_person(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (is_schedule(value) or not value.strip()):
        raise click.BadParameter("name a team member's username", param_hint="--by")
    return value.strip() if value else value


def by_option(required: bool = True) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """--by USERNAME (or COMMS_USER): who takes the step, in the audit log. Once console
    accounts exist it must be an active one whose role allows the step."""
    return click.option(
        "--by",
        envvar="COMMS_USER",
        required=required,
        metavar="USERNAME",
        callback=_check_person,
        help="Who does this: a team member's username (default: $COMMS_USER).",
    )


def config_of(ctx: click.Context) -> Config:
    path: Path = ctx.obj["config_path"]
    config, problems = load_config(path)
    report(problems)
    if config is None:
        raise Failed(f"{path}: configuration is not valid")
    return config


def service_of(ctx: click.Context) -> Service:
    return Service.open(config_of(ctx))


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n}" for status, n in counts.items() if n) or "empty"


def local_or_dash(moment: datetime | None) -> str:
    return f"{local(moment):%Y-%m-%d %H:%M %Z}" if moment else "-"


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    envvar="COMMS_CONFIG",
    show_default=True,
    help="The comms.toml to use.",
)
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS),
    envvar=logs.FORMAT_VARIABLE,
    default=None,
    help="Log lines as text (default) or one JSON object per line.  [env: COMMS_LOG_FORMAT]",
)
@click.version_option(package_name="comms")
@click.pass_context
def main(ctx: click.Context, config_path: Path, log_format: str | None) -> None:
    """comms: newsletters, agenda notices and surveys for the IPO and the twelve provinces."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    if log_format:
        logs.choose(log_format)
        logs.setup(logging.WARNING)  # `serve` and `worker` lower it to their own level
