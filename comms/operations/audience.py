"""Importing the griffies' contact exports into the contacts table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from comms.audience.contacts import read_audience
from comms.audience.sync import ImportCounts, import_contacts
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

    A file that cannot be read stops the import and changes nothing (ValidationFailed):
    importing the rest would deactivate everyone in the lost file.
    """
    files = service.config.contact_files()
    if not files:
        patterns = list(service.config.contacts)
        raise ValidationFailed([Problem(str(service.config.path), f"no contact files match {patterns}")])
    result = read_audience(files)
    if result.file_errors:
        raise ValidationFailed(result.problems)
    with service.db.session() as session:
        counts = import_contacts(session, result.contacts, now)
    return ImportOutcome(len(result.contacts), len(files), counts, result.problems)
