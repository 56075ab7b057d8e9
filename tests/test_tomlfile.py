"""comms.tomlfile: the one reader of the TOML files the team edits."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from comms.audience.gs_calendar import load_gs_calendar
from comms.audience.segments import load_segments
from comms.compose.themes import load_theme_map
from comms.problems import Problem, Severity
from comms.schedules import load_schedules
from comms.survey.definitions import load_survey_definitions
from comms.tomlfile import Table, TomlFile

EXAMPLES = {"kind": 'kind = "newsletter"', "cron": 'cron = "0 9 1-7 * thu"'}

# Line numbers in the cases below refer to this text.
SCHEDULE = """\
kind = "newsletter"
"audience" = "gs"

[build]
cron = "0 7 22-28 * mon"
stale_after_hours = 24

[send]  # the send itself
cron = 5
window = { days = "mon-fri", hours = 8 }
retry.after = "1h"

[send.window2]
days = "sat"

[[questions]]
id = "a"
options = ["Ja", "Nee",
  "Ja"]

[[questions]]
id = "b"
"""


def read(tmp_path: Path, text: str, examples: dict[str, str] | None = None) -> TomlFile:
    path = tmp_path / "file.toml"
    path.write_text(text, encoding="utf-8")
    return TomlFile(path, examples or EXAMPLES)


def root(file: TomlFile) -> Table:
    assert file.root is not None, file.problems
    return file.root


def only(file: TomlFile) -> tuple[str, int | None]:
    [problem] = file.problems
    assert problem.where == str(file.path)
    return problem.reason, problem.line


# -- typed values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "reason", "line"),
    [
        pytest.param("", "kind", 'kind is missing: add kind = "newsletter"', None, id="top: no line"),
        pytest.param("build", "kind", '[build] kind is missing: add kind = "newsletter"', 4, id="its header"),
        pytest.param("approval", "cron", '[approval] cron is missing: add cron = "0 9 1-7 * thu"', None),
    ],
)
def test_a_missing_key_says_what_to_add(
    tmp_path: Path, table: str, key: str, reason: str, line: int | None
) -> None:
    file = read(tmp_path, "\n\n\n[build]\n[send]\n")
    found = Table(file, {}, table).get(key, str)
    assert found is None
    assert only(file) == (reason, line)


def test_a_missing_key_with_a_default_is_no_problem(tmp_path: Path) -> None:
    file = read(tmp_path, "")
    assert root(file).get("stale_after_hours", float, 24) == 24
    assert root(file).get("help", str, None) is None
    assert file.problems == []


@pytest.mark.parametrize(
    ("value", "expected", "reason"),
    [
        ("3", str, "[t] key must be text in quotes, not 3"),
        ('"yes"', bool, "[t] key must be true or false, not 'yes'"),
        ("1", bool, "[t] key must be true or false, not 1"),
        ("true", int, "[t] key must be a whole number, not True"),  # a boolean is no number
        ("2.5", int, "[t] key must be a whole number, not 2.5"),
        ('"2"', float, "[t] key must be a number, not '2'"),
        ("false", float, "[t] key must be a number, not False"),
        ('"a"', list, "[t] key must be a list, not 'a'"),
    ],
)
def test_a_value_of_the_wrong_type_is_reported_at_its_line(
    tmp_path: Path, value: str, expected: type, reason: str
) -> None:
    file = read(tmp_path, f"[t]\nother = 1\nkey = {value}\n")
    table = root(file).table("t")
    assert table is not None
    assert table.get("key", expected) is None
    assert only(file) == (reason, 3)


@pytest.mark.parametrize(
    ("value", "expected", "found"),
    [
        ("24", float, 24),  # a whole number is a number
        ("1.5", float, 1.5),
        ("true", bool, True),
        ("7", int, 7),
        ('["a"]', list, ["a"]),
    ],
)
def test_a_value_of_the_right_type_is_returned(
    tmp_path: Path, value: str, expected: type, found: Any
) -> None:
    file = read(tmp_path, f"key = {value}\n")
    assert root(file).get("key", expected) == found
    assert file.problems == []


def test_the_prefix_and_subject_of_a_table_go_into_its_problems(tmp_path: Path) -> None:
    file = read(tmp_path, SCHEDULE)
    question = Table(file, {"id": 3}, "questions", index=1, subject="b", prefix="question 2: ")
    question.get("id", str)
    [problem] = file.problems
    assert problem.reason == "question 2: id must be text in quotes, not 3"
    assert (problem.line, problem.subject) == (22, "b")


# -- tables and unknown keys ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "reason", "line"),
    [
        pytest.param(
            "build = 5\n", "build", "build must be a table: a line [build] with its keys below it", 1
        ),
        pytest.param(
            "[send]\nwindow = [1]\n",
            "send.window",
            "[send] window must be a table: a line [send.window] with its keys below it",
            2,
        ),
    ],
)
def test_a_table_that_is_not_a_table(tmp_path: Path, text: str, key: str, reason: str, line: int) -> None:
    file = read(tmp_path, text)
    parent, _, name = key.rpartition(".")
    table = root(file).table(parent) if parent else root(file)
    assert table is not None
    assert table.table(name) is None
    assert only(file) == (reason, line)


def test_an_absent_table_is_empty_unless_it_is_required(tmp_path: Path) -> None:
    file = read(tmp_path, "kind = 1\n")
    assert root(file).table("reminders") == Table(file, {}, "reminders")
    assert root(file).table("audience", missing="roles = [] under [audience]") is None
    assert only(file) == ("[audience] is missing: add roles = [] under [audience]", None)


def suggest(key: str, guess: str | None) -> str:
    return f"unknown key '{key}'" + (f" (did you mean '{guess}'?)" if guess else "")


@pytest.mark.parametrize(
    ("text", "reason", "line"),
    [
        pytest.param("[build]\ncron = 1\nretries = 2\n", "unknown key 'retries'", 3, id="key"),
        pytest.param("[build]\ncorn = 1\n", "unknown key 'corn' (did you mean 'cron'?)", 2, id="typo"),
        pytest.param("[build]\n[build.extra]\nx = 1\n", "unknown key 'extra'", 2, id="a table: its header"),
        pytest.param("[build]\nextra = { x = 1 }\n", "unknown key 'extra'", 2, id="an inline table"),
        pytest.param("[build]\nextra.x = 1\n", "unknown key 'extra'", 2, id="a dotted key"),
    ],
)
def test_unknown_keys_are_reported_with_a_suggestion(
    tmp_path: Path, text: str, reason: str, line: int
) -> None:
    file = read(tmp_path, text)
    build = root(file).table("build")
    assert build is not None
    unknown = build.check_keys(("cron", "stale_after_hours"), suggest)
    assert len(unknown) == 1
    assert only(file) == (reason, line)


# -- lines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "options", "line"),
    [
        pytest.param("", "kind", {}, 1, id="a key at the top"),
        pytest.param("", "audience", {}, 2, id="a quoted key"),
        pytest.param("", None, {}, None, id="the top has no header"),
        pytest.param("build", "cron", {}, 5, id="a key in a table"),
        pytest.param("build", None, {}, 4, id="a table's header"),
        pytest.param("build", "notify", {}, 4, id="an absent key: the header"),
        pytest.param("send", "cron", {}, 9, id="the same key in the next table"),
        pytest.param("send", None, {}, 8, id="a header with a comment"),
        pytest.param("send.window", "days", {}, 10, id="a key in an inline table"),
        pytest.param("send.retry", "after", {}, 11, id="a key in a dotted-key table"),
        pytest.param("send.window2", "days", {}, 14, id="a key in a dotted table"),
        pytest.param("send", "window2", {}, 13, id="a table in a table: its header"),
        pytest.param("", "send", {}, 8, id="a top-level table: its header"),
        pytest.param("approval", "required", {}, None, id="a table that is not there"),
        pytest.param("questions", "id", {"index": 1}, 22, id="the second of an array of tables"),
        pytest.param("questions", "options", {"needle": '"Ja"', "nth": 2}, 19, id="the second needle"),
        pytest.param("questions", "options", {"needle": '"Nee"'}, 18, id="a needle after the key"),
        pytest.param("questions", "options", {"needle": '"Geen"'}, 18, id="no needle: the key"),
        pytest.param("questions", "options", {"index": 1}, 21, id="absent from that one: its header"),
    ],
)
def test_the_line_of_a_key(
    tmp_path: Path, table: str, key: str | None, options: dict[str, Any], line: int | None
) -> None:
    file = read(tmp_path, SCHEDULE)
    assert file.problems == []
    assert file.line(table, key, **options) == line


@pytest.mark.parametrize(
    ("text", "table", "key", "line"),
    [
        pytest.param('kind = "a"\nbuild = { cron = 1 }\n', "build", "cron", 2, id="inline at the top"),
        pytest.param("send = { window = { days = 1 } }\n", "send.window", "days", 1, id="inline in inline"),
        pytest.param("build.cron = 1\nbuild.stale = 2\n", "build", "stale", 2, id="dotted keys"),
        pytest.param("[send]\nwindow.days = 1\nwindow.hours = 2\n", "send.window", "hours", 3, id="under"),
        pytest.param("[build.extra]\nx = 1\n", "build", None, 1, id="only a table inside it"),
        pytest.param('kind = "a"\n', "build", None, None, id="not there at all"),
    ],
)
def test_the_line_of_a_table_without_a_header(
    tmp_path: Path, text: str, table: str, key: str | None, line: int | None
) -> None:
    file = read(tmp_path, text)
    assert file.problems == []
    assert file.line(table, key) == line


def test_a_problem_carries_its_line_subject_and_severity(tmp_path: Path) -> None:
    file = read(tmp_path, SCHEDULE)
    file.add("later than planned", "send", "cron", subject="newsletter", severity=Severity.WARNING)
    [problem] = file.problems
    assert str(problem) == f"{file.path}, line 9 [newsletter]: later than planned"
    assert not problem.is_error and not file.has_errors


# -- files that cannot be read --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "line"),
    [
        pytest.param('kind = "a"\ncron = 0 9 * * *\n', "(column 10)", 2, id="a value without quotes"),
        pytest.param("kind = newsletter\n", "(column 8)", 1, id="the first line"),
        pytest.param('[build]\ncron = "0 9', "(at end of document)", 2, id="at the end: the last line"),
    ],
)
def test_a_syntax_error_names_its_line(tmp_path: Path, text: str, column: str, line: int) -> None:
    file = read(tmp_path, text)
    assert file.root is None and file.data is None
    reason, found = only(file)
    assert reason.startswith("not valid TOML: ") and reason.endswith(column)  # tomllib's words in between
    assert found == line
    assert file.has_errors


def test_a_missing_file(tmp_path: Path) -> None:
    file = TomlFile(tmp_path / "absent.toml")
    assert file.root is None
    assert only(file) == ("file not found", None)


# --- every file the team edits, through its own reader --------------------------------------

REPO = Path(__file__).resolve().parents[1]
_SEGMENTS = {"statenleden", "griffies", "gs", "evaluatie"}
_TEMPLATES = {"newsletter", "agenda-digest", "agenda-notice", "survey-invitation"}


def _schedules(path: Path) -> list[Problem]:
    return load_schedules(path.parent, _SEGMENTS, _TEMPLATES, datetime(2026, 11, 30, tzinfo=UTC))[1]


def _surveys(path: Path) -> list[Problem]:
    return load_survey_definitions(path.parent)[1]


READERS: dict[str, Callable[[Path], list[Problem]]] = {
    "schedules/newsletter.toml": _schedules,
    "schedules/agenda-digest.toml": _schedules,
    "schedules/agenda-notices.toml": _schedules,
    "schedules/surveys.toml": _schedules,
    "templates/surveys/pamflet.toml": _surveys,
    "audiences/segments.toml": lambda path: load_segments(path)[1],
    "audiences/gs-calendar.toml": lambda path: load_gs_calendar(path)[1],
    "templates/themes.toml": lambda path: load_theme_map(path)[1],
}
_ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z_][\w-]*)(\s*=\s*)(.+?)\s*(#.*)?$")


def _wrong_values(value: str) -> list[str]:
    """A table where a value is expected, and a value of another type."""
    if value.startswith(('"', "'")):
        return ["{ a = 1 }", "12345"]
    if value.startswith("["):
        return ["{ a = 1 }", '"x"', "[1, 2]"]
    if value in ("true", "false"):
        return ["{ a = 1 }", '"yes"']
    if re.match(r"\d{4}-\d\d-\d\d", value):
        return ["{ a = 1 }", '"x"']
    return ["{ a = 1 }", '"abc"']


def _cases() -> list[Any]:
    """(file, line number, the line with a wrong value, the lines its old value took) for every
    key of every shipped file; a multi-line text is left alone."""
    cases = []
    for name in READERS:
        lines = (REPO / name).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            found = _ASSIGNMENT.match(line)
            if found is None or found[4].startswith('"""'):
                continue
            depth, span = found[4].count("[") - found[4].count("]"), 1
            while depth > 0:  # a list over several lines
                depth += lines[number - 1 + span].count("[") - lines[number - 1 + span].count("]")
                span += 1
            for value in _wrong_values(found[4]):
                wrong = f"{found[1]}{found[2]}{found[3]}{value}"
                cases.append(pytest.param(name, number, wrong, span, id=f"{name}:{number}:{value}"))
    return cases


def _headers() -> list[Any]:
    cases = []
    for name in READERS:
        lines = (REPO / name).read_text(encoding="utf-8").splitlines()
        numbers = [0] + [n for n, line in enumerate(lines, start=1) if line.startswith("[")]
        cases += [pytest.param(name, number, id=f"{name}:{number}") for number in numbers]
    return cases


def _copy(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "number", "wrong", "span"), _cases())
def test_a_wrong_value_in_any_file_the_team_edits_is_reported_at_its_line(
    tmp_path: Path, name: str, number: int, wrong: str, span: int
) -> None:
    lines = (REPO / name).read_text(encoding="utf-8").splitlines()
    lines[number - 1 : number - 1 + span] = [wrong] + [""] * (span - 1)  # the line numbers stay

    problems = READERS[name](_copy(tmp_path, name, lines))  # never raises

    assert [p for p in problems if p.is_error and p.line == number], problems


@pytest.mark.parametrize(("name", "number"), _headers())
def test_an_unknown_key_in_any_table_of_any_file_is_reported(tmp_path: Path, name: str, number: int) -> None:
    lines = (REPO / name).read_text(encoding="utf-8").splitlines()
    lines.insert(number, "colour = 1")

    problems = READERS[name](_copy(tmp_path, name, lines))

    assert [p for p in problems if p.is_error and p.line == number + 1 and "colour" in p.reason], problems
