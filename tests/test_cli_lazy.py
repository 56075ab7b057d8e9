"""The `comms` group lists its commands from a table and imports a command's module only when
it runs: the table must agree with the commands themselves, and `comms --help` and `comms
status` must not load what they do not use (a new user's first impression, and scripts that
poll the status)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import comms.cli
from comms.cli import COMMANDS

# Each is a large import that neither `comms --help` nor `comms status` needs.
NOT_FOR_HELP = (
    "rich",
    "sqlalchemy",
    "alembic",
    "jinja2",
    "mjml",
    "httpx",
    "fastapi",
    "feedparser",
    "sendgrid",
    "cryptography",
    "limits",
    "babel",
    "email_validator",
    "uvicorn",
    "psycopg",
)
NOT_FOR_STATUS = ("alembic", "mako", "jinja2", "mjml", "httpx", "fastapi", "feedparser", "sendgrid", "limits")


def _defined_commands() -> dict[str, str]:
    """Every command the modules of comms.cli define (their `commands` lists): name → target."""
    found = {}
    for info in pkgutil.iter_modules(comms.cli.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"comms.cli.{info.name}")
        for command in getattr(module, "commands", []):
            [attribute] = [name for name, value in vars(module).items() if value is command]
            found[command.name] = f"{module.__name__}:{attribute}"
    return found


def test_the_table_names_every_command_where_it_is_defined() -> None:
    assert {name: target for name, (target, _) in COMMANDS.items()} == _defined_commands()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_has_each_commands_own_one_line_help(name: str) -> None:
    target, help_text = COMMANDS[name]
    module, attribute = target.split(":")
    command: click.Command = getattr(importlib.import_module(module), attribute)
    assert help_text == command.get_short_help_str(limit=10_000)


def _modules_after(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `comms ARGS` in a fresh interpreter; what it printed and the modules it had loaded."""
    listing = cwd / "modules.txt"
    script = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(listing)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        "from comms.cli import main\n"
        f"main({args!r}, prog_name='comms')\n"
    )
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return result, {name.split(".")[0] for name in listing.read_text().split()}


def test_help_lists_every_command_without_importing_them(tmp_path: Path) -> None:
    result, modules = _modules_after(["--help"], tmp_path)

    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    assert sorted(modules & set(NOT_FOR_HELP)) == []


def test_a_commands_own_help_loads_its_module(tmp_path: Path) -> None:
    result, _ = _modules_after(["status", "--help"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Usage: comms status [OPTIONS] [EDITION]" in result.stdout
    assert "--all" in result.stdout


def test_status_on_a_current_schema_loads_neither_alembic_nor_the_builders(project: Path) -> None:
    result, modules = _modules_after(["--config", str(project / "comms.toml"), "status"], project)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no editions yet"
    assert sorted(modules & set(NOT_FOR_STATUS)) == []


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result, _ = _modules_after(["stauts"], tmp_path)

    assert result.returncode == 2
    assert "No such command 'stauts'" in result.stderr
