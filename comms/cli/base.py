"""What every command shares: the `comms` group, output, and how failures are shown.

Exit codes: 0 ok, 1 validation error (every problem listed with file, line or row, and
reason), 2 usage error.

This module is on the path of `comms --help` and of every command, so it imports little: the
consoles (rich), the configuration and the service are loaded when a command first asks.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec

import click

from comms import logs
from comms.errors import CommsError
from comms.problems import Problem, ValidationFailed
from comms.store.actors import is_schedule

if TYPE_CHECKING:
    from rich.console import Console

    from comms.config import Config
    from comms.service import Service

    # Made on first use by __getattr__ below: `from comms.cli.base import out` works as before.
    out: Console
    err: Console

P = ParamSpec("P")
# The configuration a command reads when neither --config nor COMMS_CONFIG names one.
DEFAULT_CONFIG = Path("comms.toml")


def _console(stderr: bool) -> Console:
    from rich.console import Console

    # Wide when piped, so tables in logs and tests are not squeezed to 80 columns.
    width = None if sys.stdout.isatty() else 200
    # markup=False: what we print quotes user input ("[send]", "<b>"); rich must not read it as markup.
    return Console(stderr=stderr, highlight=False, markup=False, soft_wrap=True, width=width)


def __getattr__(name: str) -> Any:
    """`out` and `err`, the consoles, made (and rich imported) when a command first prints."""
    if name in ("out", "err"):
        console = _console(stderr=name == "err")
        globals()[name] = console
        return console
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _err() -> Console:
    return __getattr__("err")


class Failed(click.ClickException):
    """A validation error: the problems are printed, the exit code is 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        from rich.text import Text

        _err().print(Text.assemble(("error:", "bold red"), f" {self.message}"))


def report(problems: Iterable[Problem]) -> None:
    from rich.text import Text

    for problem in problems:
        label = ("error", "red") if problem.is_error else ("warning", "yellow")
        _err().print(Text.assemble(label, f": {problem}"))


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
    from comms.config import load_config

    path: Path = ctx.obj["config_path"]
    config, problems = load_config(path)
    report(problems)
    if config is None:
        raise Failed(f"{path}: configuration is not valid")
    return config


def service_of(ctx: click.Context, migrate: bool = False) -> Service:
    """The service on the configured database. Only `comms migrate`, `demo` and the long-running
    processes bring the schema up to date (`migrate=True`); every other command checks that it
    is (one query) and refuses a database behind or ahead of this comms."""
    from comms.service import Service

    return Service.open(config_of(ctx), migrate=migrate)


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n}" for status, n in counts.items() if n) or "empty"


def local_or_dash(moment: datetime | None) -> str:
    from comms.dates import local

    return f"{local(moment):%Y-%m-%d %H:%M %Z}" if moment else "-"


def local_minute(moment: datetime) -> str:
    from comms.dates import local

    return f"{local(moment):%Y-%m-%d %H:%M}"


class LazyGroup(click.Group):
    """A group that knows its commands by name, "module:attribute" and one-line help, and
    imports a command's module only when that command runs or shows its own help: `comms
    --help` lists them all without loading rich, SQLAlchemy or the web app.
    (tests/test_cli_lazy.py checks the table against the commands the modules define.)"""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def add_lazy(self, table: dict[str, tuple[str, str]]) -> None:
        self.lazy.update(table)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, with the table's help for the commands not imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                # Shortened as click shortens a command's own help (a stand-in command does it).
                stand_in = click.Command(name, help=self.lazy[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup)
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
