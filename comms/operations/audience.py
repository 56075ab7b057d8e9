"""Importing the griffies' contact exports into the contacts table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from comms.audience.contacts import Contact, duplicate_of, loses_the_file, read_rows
from comms.audience.sync import Duplicate, ImportCounts, staging
from comms.problems import Problem, ValidationFailed
from comms.service import Service


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    contacts: int  # good rows imported
    files: int
    counts: ImportCounts
    problems: list[Problem] = field(default_factory=list)  # bad rows, skipped (the rest is in)

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def rows_left_out(self) -> int:
        return sum(p.is_error for p in self.problems)


def import_audience(service: Service, now: datetime) -> ImportOutcome:
    """Read every contact export; bad rows are reported and skipped, good rows kept.

    The files are streamed row by row into a staging table, and merged into the contacts
    in one transaction. A file that cannot be read stops the import and changes nothing
    (ValidationFailed, the staging rolled back): importing the rest would deactivate
    everyone in the lost file.
    """
    files = service.config.contact_files()
    if not files:
        patterns = list(service.config.contacts)
        raise ValidationFailed([Problem(str(service.config.path), f"no contact files match {patterns}")])
    problems: list[Problem] = []
    with service.db.session() as session, staging(session) as staged:
        staged.add(_good_rows(files, problems))
        duplicates = staged.drop_duplicates()
        problems = _in_reading_order(files, _with_duplicates(problems, duplicates))
        if any(loses_the_file(p) for p in problems):
            raise ValidationFailed(problems)
        counts = staged.merge(now)
        contacts = staged.rows
    return ImportOutcome(contacts, len(files), counts, problems)


def _good_rows(files: Iterable[Path], problems: list[Problem]) -> Iterator[Contact]:
    """The contacts that passed their checks, file after file; the rest's problems go to `problems`."""
    for path in files:
        for row in read_rows(path):
            problems.extend(row.problems)
            if row.contact is not None:
                yield row.contact


def _with_duplicates(problems: list[Problem], duplicates: list[Duplicate]) -> list[Problem]:
    """A duplicate row is skipped with that one reason: a warning it had goes with it."""
    skipped = {(d.source, d.row) for d in duplicates}
    kept = [p for p in problems if p.is_error or (p.where, p.row) not in skipped]
    return kept + [duplicate_of(d.source, d.row, d.email, d.first_source, d.first_row) for d in duplicates]


def _in_reading_order(files: list[Path], problems: list[Problem]) -> list[Problem]:
    """File by file as configured, row by row, as one reading of the files would list them."""
    order = {str(path): index for index, path in enumerate(files)}
    return sorted(problems, key=lambda p: (order.get(p.where, len(order)), p.row or 0))
