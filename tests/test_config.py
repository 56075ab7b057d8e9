"""comms.toml, however wrong: every problem with file, line and key, never a traceback.

The table of keys is found by introspecting the dataclasses the loader reads, so a setting
added as a new field is covered here without editing this file.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from datetime import date
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from comms.cli import main
from comms.config import _PLAIN_TABLES, SourceConfig, _settings, _typed, load_config
from comms.tomlfile import TomlFile

REPO = Path(__file__).resolve().parents[1]
TABLE = "{ a = 1 }"  # a table where a value is expected


def _tables() -> dict[str, type]:
    return {**_settings(), **_PLAIN_TABLES, "sources": SourceConfig}


def _fields() -> list[tuple[str, str, Any]]:
    """(table, key, annotation) of every key comms.toml can have."""
    found = []
    for table, kind in _tables().items():
        hints = typing.get_type_hints(kind)
        found += [(table, f.name, hints[f.name]) for f in dataclasses.fields(kind)]
    return found


def _options(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return [a for a in typing.get_args(hint) if a is not type(None)]
    return [hint]


def _wrong_scalar(hint: Any) -> str:
    """A TOML value of a type the field does not take."""
    plain = [typing.get_origin(o) or o for o in _options(hint)]
    if any(o in (list, tuple, set, frozenset) for o in plain):
        return '"not a list"'
    if dict in plain:
        return '"not a table"'
    if any(isinstance(o, type) and issubclass(o, Enum) for o in plain):
        return '"no-such-value"'
    if any(o in (int, float) for o in plain):
        return '"abc"'
    if bool in plain:
        return '"yes"'
    return "12345"  # str, Path


def _wrong_shape(hint: Any) -> str:
    """A table where a value is expected; a list where a table is."""
    return "[1, 2]" if dict in [typing.get_origin(o) for o in _options(hint)] else TABLE


KEYS = [
    pytest.param(table, key, value, id=f"{table}.{key}={kind}")
    for table, key, hint in _fields()
    for kind, value in (("value", _wrong_scalar(hint)), ("shape", _wrong_shape(hint)))
]


def with_line(text: str, table: str, line: str) -> tuple[str, int]:
    """comms.toml with `line` in [table] (the first [[sources]]), replacing the key if it is set
    there; and the number of that line."""
    lines = text.splitlines()
    key = line.split("=")[0].strip()
    header = next((n for n, t in enumerate(lines) if re.fullmatch(rf"\[\[?{table}\]\]?\s*", t)), None)
    if header is None:
        lines += [f"[{table}]", line]
        return "\n".join(lines) + "\n", len(lines)
    end = next((n for n in range(header + 1, len(lines)) if lines[n].startswith("[")), len(lines))
    kept = [t for t in lines[header + 1 : end] if not re.match(rf"{key}\s*=", t)]
    lines[header + 1 : end] = [line, *kept]
    return "\n".join(lines) + "\n", header + 2


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "comms.toml"
    path.write_text((REPO / "comms.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def check(path: Path, *command: str) -> str:
    """`comms <command>` on the file: exit 1 without a traceback (catch_exceptions=False raises it)."""
    result = CliRunner().invoke(
        main, ["--config", str(path), *(command or ("check",))], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_the_table_covers_every_key() -> None:
    tables = {table for table, _, _ in _fields()}
    assert {"sender", "web", "delivery", "newsletter", "sources", "smtp", "sendgrid", "serve"} <= tables
    assert len(_fields()) >= 60, len(_fields())  # what this report counts: see the lead's notes


@pytest.mark.parametrize(("table", "key", "value"), KEYS)
def test_a_wrong_value_for_every_key_is_reported_at_its_line(
    config_file: Path, table: str, key: str, value: str
) -> None:
    text, line = with_line(config_file.read_text(encoding="utf-8"), table, f"{key} = {value}")
    config_file.write_text(text, encoding="utf-8")

    config, problems = load_config(config_file)

    assert config is None
    assert {p.line for p in problems if p.is_error and key in p.reason} == {line}, problems
    assert f"{config_file}, line {line}" in check(config_file)


@pytest.mark.parametrize("table", list(_tables()))
def test_an_unknown_key_in_every_table_is_reported_with_the_key_it_likely_meant(
    config_file: Path, table: str
) -> None:
    known = [f.name for f in dataclasses.fields(_tables()[table])]
    typo = known[0][:-1] + "x" + known[0][-1]  # one letter too many
    text, line = with_line(config_file.read_text(encoding="utf-8"), table, f'{typo} = "x"')
    config_file.write_text(text, encoding="utf-8")

    config, problems = load_config(config_file)

    assert config is None
    [problem] = [p for p in problems if p.is_error]
    assert (problem.line, problem.where) == (line, str(config_file))
    assert f"unknown key '{typo}' (did you mean '{known[0]}'?)" in problem.reason


SHAPES = [
    pytest.param("sources = [1, 2]\n", 1, "sources must be [[sources]] tables", id="sources of numbers"),
    pytest.param('sources = "ipo"\n', 1, "sources must be [[sources]] tables", id="sources a text"),
    pytest.param(
        '[sources]\nname = "x"\n', 1, "sources must be [[sources]] tables", id="one [sources] table"
    ),
    pytest.param("newsletter = 5\n", 1, "newsletter must be a table", id="a value for a table"),
    pytest.param("[[serve]]\nport = 1\n", 1, "serve must be a table", id="an array for a table"),
    pytest.param("frobnicate = 1\n", 1, "unknown key 'frobnicate'", id="unknown top-level key"),
    pytest.param(
        "[smpt]\nhost = 'x'\n", 1, "unknown table 'smpt' (did you mean 'smtp'?)", id="unknown table"
    ),
    pytest.param(
        '[newsletter]\nfirst_window_days = "abc"\n',
        2,
        "first_window_days must be a whole number, not 'abc'",
        id="the issue's ValueError",
    ),
    pytest.param(
        "[newsletter]\nfirst_window_days = 0\n", 2, "first_window_days must be more than 0", id="zero days"
    ),
    pytest.param("[serve]\nport = 70000\n", 2, "port must be 1 to 65535, not 70000", id="port out of range"),
    pytest.param("[delivery]\nbatch_size = 0\n", 2, "batch_size must be 1 to 10000", id="batch size 0"),
    pytest.param(
        "[delivery]\nmax_per_hour = -5\n", 2, "max_per_hour must be 0 or more, not -5", id="negative count"
    ),
    pytest.param(
        "[smtp]\ntimeout_seconds = -1\n", 2, "timeout_seconds must be more than 0", id="negative timeout"
    ),
    pytest.param(
        '[smtp]\nsecurity = "ssl"\n', 2, "security must be one of starttls, tls, none", id="smtp security"
    ),
    pytest.param(
        '[delivery]\ntransport = "pigeon"\n', 2, "transport 'pigeon' is not available", id="transport"
    ),
    pytest.param(
        '[sendgrid]\nasm_groups = { newsletter = "x" }\n',
        2,
        "asm_groups must be a table, each value a whole number, not { newsletter = 'x' }",
        id="asm group not a number",
    ),
    pytest.param(
        '[team]\naddresses = ["redactie"]\n', 2, "'redactie' is not an e-mail address", id="team address"
    ),
    pytest.param(
        '[audience]\ncontacts = ["/etc/*.csv"]\n',
        2,
        "contacts '/etc/*.csv' must be relative",
        id="absolute glob",
    ),
    pytest.param(
        '[audience]\ncontacts = ["../elders/*.csv"]\n',
        2,
        "must stay inside the folder of comms.toml",
        id="escaping glob",
    ),
    pytest.param('[audience]\ncontacts = [""]\n', 2, "an empty pattern matches nothing", id="empty glob"),
    pytest.param('[audience]\ncontacts = "*.csv"\n', 2, "contacts must be a list", id="glob not in a list"),
    pytest.param(
        '[web]\nbase_url = "http://x.example.org"\n', 2, "base_url must be an https URL", id="http base url"
    ),
    pytest.param(
        '[web]\nbase_url = "https://x.example.org"\npreference_links_per_address = "drie per uur"\n',
        3,
        'preference_links_per_address must be rates such as "3/hour;5/day"',
        id="rate limit not in the limits notation",
    ),
    pytest.param(
        '[[sources]]\nname = "x"\nurl = "x.xml"\nformat = "json"\n',
        4,
        "format must be 'feed' or 'ical'",
        id="source format",
    ),
    pytest.param(
        '[[sources]]\nname = "x"\nurl = "x.xml"\ntimeout = 5\n',
        4,
        "unknown key 'timeout'",
        id="unknown source key",
    ),
    pytest.param('[[sources]]\nname = "x"\n', 1, "url is missing", id="source without url"),
    pytest.param(
        '[[sources]]\nname = "x"\nurl = "ftp://x.example.org/feed"\n',
        3,
        "url must be an http(s) URL or a file path",
        id="source url scheme",
    ),
    pytest.param(
        '[[sources]]\nname = "x"\nurl = "x.xml"\nprovince = "Limburgg"\n',
        4,
        "province 'Limburgg' is not a province",
        id="source province",
    ),
    pytest.param(
        '[[sources]]\nname = "ipo-nieuws"\nurl = "x.xml"\n',
        2,
        "two sources share this name",
        id="duplicate source",
    ),
]


def without(text: str, name: str, *, arrays: bool = True) -> str:
    """The file without its [name] (and [[name]]) tables."""
    kept, skipping = [], False
    pattern = rf"\[\[?{name}\]\]?\s*" if arrays else rf"\[{name}\]\s*"
    for line in text.splitlines():
        if line.startswith("["):
            skipping = re.fullmatch(pattern, line) is not None
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def with_added(text: str, added: str) -> tuple[str, int]:
    """The file with `added`: a top-level key first, a table last (replacing one of that name,
    unless both are [[tables]]); and the line where `added` starts."""
    first = added.splitlines()[0]
    if not first.startswith("["):
        name = first.split("=")[0].strip()
        return added + without(text, name), 1
    name = first.strip("[]")
    text = without(text, name, arrays=not first.startswith("[["))
    return text + added, text.count("\n") + 1


@pytest.mark.parametrize(("added", "line", "reason"), SHAPES)
@pytest.mark.parametrize("command", [["check"], ["collect"], ["demo", "--outbox", "out"]])
def test_wrong_shapes_stop_every_command_with_file_line_and_reason(
    config_file: Path, added: str, line: int, reason: str, command: list[str]
) -> None:
    text, start = with_added(config_file.read_text(encoding="utf-8"), added)
    config_file.write_text(text, encoding="utf-8")

    output = check(config_file, *command)

    where = f"{config_file}, line {start + line - 1}"
    assert re.search(rf"{re.escape(where)}( \[[^\]]+\])?: [^\n]*{re.escape(reason)}", output), output


def test_a_database_url_comms_cannot_use_is_reported_at_its_line(config_file: Path) -> None:
    text, line = with_line(
        config_file.read_text(encoding="utf-8"), "database", 'url = "mysql://ipo:geheim@db/x"'
    )
    config_file.write_text(text, encoding="utf-8")

    output = check(config_file, "collect")

    assert (
        f"{config_file}, line {line}: [database] url must be sqlite:///path.sqlite3 or postgresql://"
        in output
    )
    assert "'mysql://…@db/x'" in output and "geheim" not in output


def test_a_wrong_database_url_in_the_environment_is_reported(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMS_DATABASE_URL", "comms.sqlite3")

    assert "environment: COMMS_DATABASE_URL must be sqlite:///path.sqlite3" in check(config_file, "collect")


def test_a_database_that_cannot_be_reached_stops_a_command_without_a_traceback(config_file: Path) -> None:
    text, _ = with_line(
        config_file.read_text(encoding="utf-8"), "database", 'url = "postgresql://ipo@127.0.0.1:1/x"'
    )
    config_file.write_text(text, encoding="utf-8")

    output = check(config_file, "collect")

    assert "cannot reach the database postgresql+psycopg://ipo@127.0.0.1:1/x: connection failed" in output


def test_the_shipped_configuration_has_no_problems() -> None:
    config, problems = load_config(REPO / "comms.toml")
    assert config is not None and problems == []


class Colour(StrEnum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class FutureSettings:
    """Fields of every kind another setting may have: _typed checks them all."""

    retries: int = 1
    ratio: float = 0.5
    enabled: bool = False
    name: str = "x"
    folder: Path = Path("x")
    colour: Colour = Colour.RED
    mode: typing.Literal["a", "b"] = "a"
    names: tuple[str, ...] = ()
    groups: dict[str, int] = dataclasses.field(default_factory=dict)
    closed: tuple[date, ...] = ()
    limit: int | None = None
    wait_seconds: float = 1
    share_percent: int = 10


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('retries = "3"', "retries must be a whole number, not '3'"),
        ("retries = 2.5", "retries must be a whole number, not 2.5"),
        ("retries = true", "retries must be a whole number, not True"),
        ("retries = -1", "retries must be 0 or more, not -1"),
        ('ratio = "x"', "ratio must be a number, not 'x'"),
        ('enabled = "yes"', "enabled must be true or false, not 'yes'"),
        ("name = 1", "name must be text in quotes, not 1"),
        ("folder = 1", "folder must be a path in quotes, not 1"),
        ('colour = "blue"', "colour must be one of 'red', not 'blue'"),
        ('mode = "c"', "mode must be one of 'a', 'b', not 'c'"),
        ("names = [1]", "names must be a list, each item text in quotes, not [1]"),
        ('groups = { a = "1" }', "groups must be a table, each value a whole number, not { a = '1' }"),
        (
            'closed = ["2026-12-25"]',
            "closed must be a list, each item a date without quotes, like 2026-12-29, not ['2026-12-25']",
        ),
        (
            "closed = [2026-12-25T10:00:00]",
            "closed must be a list, each item a date without quotes, like 2026",
        ),
        ('limit = "none"', "limit must be a whole number, not 'none'"),
        ("wait_seconds = 0", "wait_seconds must be more than 0, not 0"),
        ("share_percent = 120", "share_percent must be 0 to 100, not 120"),
        ("nmae = 1", "unknown key 'nmae' (did you mean 'name'?)"),
        ("retries = { a = 1 }", "retries must be a whole number, not a table"),
    ],
)
def test_a_setting_added_later_is_checked_by_its_type(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "comms.toml"
    path.write_text(f"[future]\n# a comment\n{line}\n", encoding="utf-8")
    file = TomlFile(path)
    root = file.root
    assert root is not None

    settings = _typed(FutureSettings, root.table("future"))

    assert settings == FutureSettings()  # the wrong value is left out
    [problem] = file.problems
    assert problem.line == 3 and problem.reason.startswith(f"[future] {reason}"), problem


def test_the_right_values_of_a_setting_added_later_are_read(tmp_path: Path) -> None:
    path = tmp_path / "comms.toml"
    path.write_text(
        "[future]\nretries = 3\nratio = 2\nfolder = 'y'\ncolour = 'red'\nmode = 'b'\nnames = ['a']\n"
        "groups = { a = 1 }\nclosed = [2026-12-25]\nlimit = 5\n",
        encoding="utf-8",
    )
    file = TomlFile(path)
    assert file.root is not None

    settings = _typed(FutureSettings, file.root.table("future"))

    assert file.problems == []
    assert settings == FutureSettings(
        retries=3,
        ratio=2.0,
        folder=Path("y"),
        mode="b",
        names=("a",),
        groups={"a": 1},
        closed=(date(2026, 12, 25),),
        limit=5,
    )
    assert settings is not None and isinstance(settings.ratio, float)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            'adress = "agenda@ipo.example.org"',
            "[senders.agenda-notice] unknown key 'adress' (did you mean 'address'?)",
        ),
        ("reply_to = 3", "[senders.agenda-notice] reply_to must be text in quotes, not 3"),
        (
            'reply_to = "agendadesk"',
            "[senders.agenda-notice] reply_to is not an e-mail address: 'agendadesk'",
        ),
        ('signature = " "', "[senders.agenda-notice] signature must not be empty: recipients see who sends"),
    ],
)
def test_a_kind_s_sender_is_checked_like_the_service_sender(
    config_file: Path, line: str, reason: str
) -> None:
    text, number = with_line(config_file.read_text(encoding="utf-8"), "senders.agenda-notice", line)
    config_file.write_text(text, encoding="utf-8")

    config, problems = load_config(config_file)

    assert config is None
    assert [(p.line, p.reason[: len(reason)]) for p in problems if p.is_error] == [(number, reason)]


def test_each_kind_has_its_own_sender_and_the_rest_fall_back_to_the_service(config_file: Path) -> None:
    text = without(config_file.read_text(encoding="utf-8"), "senders.survey")
    config_file.write_text(text + '\n[senders.agenda-notices]\naddress = "agenda@ipo.example.org"\n', "utf-8")

    config, problems = load_config(config_file)

    assert config is not None and problems == []
    notice = config.sender_for("agenda-notice")
    assert (notice.address, notice.reply_to) == ("agenda@ipo.example.org", "agendadesk@ipo.example.org")
    assert notice.signature == "Agendadesk IPO\nInterprovinciaal Overleg (IPO)"
    assert config.sender_for("survey") == config.sender  # the service's own: noreply@
    output = check(config_file)
    assert "[senders.agenda-notices] is not a mailing kind (known: newsletter, agenda-notice" in output
    assert "no [senders.survey]: survey mail goes out from [sender] noreply@ipo.example.org" in output
