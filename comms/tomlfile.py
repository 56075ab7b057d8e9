"""Reading the TOML files the team edits, with errors that name file and line.

TomlFile reads one file and collects its Problems (errors as values: reported together,
never raised); Table is a view of one of its tables that reads typed values and reports
what is wrong at the line where it is written. tomllib keeps no positions, so lines are
found in the text: see TomlFile.line.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

from comms.problems import Problem, Severity

T = TypeVar("T")

# How a reason names the type a value must have: "[build] cron must be text in quotes, not 3".
TYPE_NAMES: dict[type, str] = {
    str: "text in quotes",
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    list: "a list",
}

# A header line, [table] or [[array.of.tables]], with an optional comment after it.
_HEADER = re.compile(r"\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")


class _Required(Enum):
    REQUIRED = "required"


_REQUIRED = _Required.REQUIRED


def read_toml(path: Path) -> tuple[str, dict[str, Any] | None, list[Problem]]:
    """(text, data, problems): data is None when the file cannot be read or parsed."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return "", None, [Problem(where, "file not found")]
    except OSError as exc:
        return "", None, [Problem(where, f"cannot read the file: {exc.strerror or exc}")]
    except UnicodeDecodeError:
        return "", None, [Problem(where, "cannot read the file: it is not UTF-8 text")]
    try:
        return text, tomllib.loads(text), []
    except tomllib.TOMLDecodeError as exc:
        return text, None, [syntax_problem(where, text, exc)]


def syntax_problem(where: str, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    """tomllib puts the place in its message: '... (at line 3, column 5)'."""
    message = str(exc)
    if found := re.search(r" \(at line (\d+), column (\d+)\)$", message):
        reason = f"not valid TOML: {message[: found.start()]} (column {found[2]})"
        return Problem(where, reason, line=int(found[1]))
    if message.endswith(" (at end of document)"):
        return Problem(where, f"not valid TOML: {message}", line=text.count("\n") + 1)
    return Problem(where, f"not valid TOML: {message}")


def closest(key: str, known: Sequence[str]) -> str | None:
    """The known key a typo most likely meant, for a "did you mean" hint."""
    guess = difflib.get_close_matches(key, known, n=1)
    return guess[0] if guess else None


def is_a(value: object, expected: type) -> bool:
    """Whether a TOML value has the expected type: a whole number is a number, a boolean is not."""
    allowed = (int, float) if expected is float else (expected,)
    return isinstance(value, bool) is (expected is bool) and isinstance(value, allowed)


def bare(name: str) -> str:
    """A dotted table name as tomllib sees it, near enough: no spaces or quotes."""
    return re.sub(r"[\s\"']", "", name)


def join(table: str, key: str) -> str:
    """The dotted name of `key` in `table`: 'send' and 'window' give 'send.window'."""
    return f"{table}.{key}" if table else key


@dataclass(frozen=True, slots=True)
class _Section:
    """The lines below one header, up to the next one; the top of the file has no header."""

    name: str  # bare
    header: int | None
    lines: tuple[tuple[int, str], ...]

    def key_line(self, key: str) -> int | None:
        """The first line that sets `key` (key = …) or a key inside it (key.sub = …)."""
        pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*[=.]")
        return next((number for number, line in self.lines if pattern.match(line)), None)

    def needle_line(self, needle: str, start: int, nth: int) -> int | None:
        """The line of the nth `needle` from line `start` on."""
        seen = 0
        for number, line in self.lines:
            seen += line.count(needle) if number >= start else 0
            if seen >= nth:
                return number
        return None


class TomlFile:
    """One file being read: its data, its text (for line numbers) and the problems found so far."""

    def __init__(self, path: Path, examples: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.examples = examples or {}  # per key, what to add when it is missing
        self.text, self.data, self.problems = read_toml(path)

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def root(self) -> Table | None:
        """The top of the file as a Table; None when the file could not be read or parsed."""
        return Table(self, self.data) if self.data is not None else None

    def add(
        self,
        reason: str,
        table: str = "",
        key: str | None = None,
        *,
        index: int = 0,
        needle: str | None = None,
        nth: int = 1,
        subject: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """A problem at the line of `key` in [table] (see line); without a key, at its header."""
        line = self.line(table, key, index=index, needle=needle, nth=nth)
        self.problems.append(Problem(self.where, reason, line=line, subject=subject, severity=severity))

    def line(
        self,
        table: str = "",
        key: str | None = None,
        *,
        index: int = 0,
        needle: str | None = None,
        nth: int = 1,
    ) -> int | None:
        """The line to point at for `key` in the index-th [table] or [[table]], first found of:

        the nth `needle` from the key on (a value in a list); the key (`key = …` or `key.sub = …`);
        the header of [table.key] (a key that is a table of its own); the header of [table].
        A table without a header, written inline (window = { … } under [send]) or with dotted
        keys (window.days = …), is found in its parent. None: nothing to point at (a top-level
        key that is missing).
        """
        matching = self._named(table)
        if index < len(matching):
            return self._line_in(matching[index], table, key, needle, nth)
        if not table:
            return None
        # No header of its own: written inline (window = { … }) or with dotted keys (window.days = …).
        parent, _, last = table.rpartition(".")
        inside = self._header(join(table, key)) if key else None
        dotted = next((s.key_line(f"{last}.{key}") for s in self._named(parent)), None) if key else None
        return inside or dotted or self.line(parent, last)

    def _named(self, table: str) -> list[_Section]:
        return [s for s in self._sections if s.name == bare(table)]

    def _line_in(
        self, section: _Section, table: str, key: str | None, needle: str | None, nth: int
    ) -> int | None:
        at_key = section.key_line(key) if key else None
        if at_key is None:
            return (self._header(join(table, key)) if key else None) or section.header
        return (section.needle_line(needle, at_key, nth) if needle else None) or at_key

    def _header(self, table: str) -> int | None:
        """The header line of [table], else of the first table inside it, such as [table.sub]."""
        name = bare(table)
        exact = (s.header for s in self._sections if s.name == name)
        inside = (s.header for s in self._sections if s.name.startswith(name + "."))
        return next(exact, None) or next(inside, None)

    @cached_property
    def _sections(self) -> tuple[_Section, ...]:
        sections: list[_Section] = []
        name, header, lines = "", None, list[tuple[int, str]]()
        for number, line in enumerate(self.text.splitlines(), start=1):
            if opened := _HEADER.match(line):
                sections.append(_Section(name, header, tuple(lines)))
                name, header, lines = bare(opened[1]), number, []
            else:
                lines.append((number, line))
        sections.append(_Section(name, header, tuple(lines)))
        return tuple(sections)


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a TomlFile: its values, and where and how problems about them are reported."""

    file: TomlFile
    data: dict[str, Any]
    name: str = ""  # dotted, as in its header ("send.window"); "" is the top of the file
    index: int = 0  # which [[name]] of an array of tables
    subject: str | None = None  # what its problems concern: a question id, a province
    prefix: str | None = None  # how its reasons start ("question 3: "); default "[name] "

    def label(self, text: str) -> str:
        """`text` (a key, mostly) as a reason about this table starts: '[send] cron', 'question 3: id'."""
        prefix = self.prefix if self.prefix is not None else f"[{self.name}] " if self.name else ""
        return prefix + text

    def add(
        self,
        reason: str,
        key: str | None = None,
        *,
        needle: str | None = None,
        nth: int = 1,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """A problem at the line of `key` in this table (see TomlFile.line), else at its header."""
        self.file.add(
            reason,
            self.name,
            key,
            index=self.index,
            needle=needle,
            nth=nth,
            subject=self.subject,
            severity=severity,
        )

    def get(
        self, key: str, expected: type[T], default: T | Literal[_Required.REQUIRED] | None = _REQUIRED
    ) -> T | None:
        """The value of `key` if it has the expected type (see is_a), else None and a problem.

        Absent: the default, or without one None and a problem that says what to add
        (the file's example for the key).
        """
        if key not in self.data:
            if default is _REQUIRED:
                self.add(f"{self.label(key)} is missing: add {self.file.examples[key]}")
                return None
            return default
        value: T = self.data[key]  # TOML values are untyped: is_a checks it
        if not is_a(value, expected):
            self.add(f"{self.label(key)} must be {TYPE_NAMES[expected]}, not {value!r}", key)
            return None
        return value

    def table(self, key: str, *, missing: str | None = None) -> Table | None:
        """The table `key` in this one: empty when absent; None and a problem when it is not a
        table, or absent while `missing` says what to add."""
        name = join(self.name, key)
        if key not in self.data and missing is not None:
            self.add(f"[{name}] is missing: add {missing}")
            return None
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.add(f"{self.label(key)} must be a table: a line [{name}] with its keys below it", key)
            return None
        return Table(self.file, value, name)

    def unknown_keys(self, known: Collection[str]) -> list[str]:
        """The keys that are not known, in the order of the file."""
        return [key for key in self.data if key not in known]

    def check_keys(self, known: Sequence[str], reason: Callable[[str, str | None], str]) -> list[str]:
        """Reports every unknown key at its line, in the caller's words: reason(key, the known
        key it most likely meant, or None). Returns the unknown keys."""
        unknown = self.unknown_keys(known)
        for key in unknown:
            self.add(reason(key, closest(key, known)), key)
        return unknown
