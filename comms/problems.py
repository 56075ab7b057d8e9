"""Errors as values: every check collects Problems and reports them together.

Modelled on notifications-utils: a validator never raises on bad input, it
returns what is wrong, where (file, line or row, the thing it concerns) and why,
so a user sees every mistake in one run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from comms.errors import CommsError


class Severity(StrEnum):
    ERROR = "error"  # stops whatever depends on it
    WARNING = "warning"  # reported, the run goes on


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one input, in the user's own words."""

    where: str  # a file path, a source name or a URL
    reason: str
    line: int | None = None  # line in a text file (1-based)
    row: int | None = None  # row in a CSV file, as a spreadsheet numbers it (header is row 1)
    subject: str | None = None  # the entry, row key or variable concerned
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        location = self.where
        if self.line is not None:
            location += f", line {self.line}"
        if self.row is not None:
            location += f", row {self.row}"
        subject = f" [{self.subject}]" if self.subject else ""
        return f"{location}{subject}: {self.reason}"


class ValidationFailed(CommsError):
    """Raised at a boundary (CLI, send) when collected problems must stop the run."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
