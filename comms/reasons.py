"""Why something did not happen, in both languages: English for the operator (the CLI, the job
ledger, logs), Dutch for the team (the console, team mails). One message, one language."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reason:
    en: str
    nl: str

    def __str__(self) -> str:
        return self.en
