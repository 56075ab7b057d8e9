"""Dutch grammar for what the team and recipients read: counts that agree, names with articles.

"1 van de 681 genodigden heeft", "2 van de 681 genodigden hebben"; "1 melding", "2 meldingen";
"U ontvangt de maandelijkse nieuwsbrief voor Statenleden niet meer". One place decides, so
no sentence hand-writes "melding(en)" or puts a capitalised label in mid-sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.numbers import format_decimal

from comms.dates import long_date, time_of_day

LOCAL_TIME = "Nederlandse tijd"  # the label next to a time the team reads


@dataclass(frozen=True, slots=True)
class Noun:
    """A countable word: Noun("melding", "meldingen")."""

    one: str
    many: str

    def form(self, count: int) -> str:
        """Singular for exactly 1, plural otherwise (Dutch says "0 meldingen", "1,5 uur" aside)."""
        return self.one if count == 1 else self.many

    def count(self, count: int) -> str:
        """'1 melding', '0 meldingen', '1.234 meldingen'."""
        return f"{number(count)} {self.form(count)}"


@dataclass(frozen=True, slots=True)
class Verb:
    """A verb as its subject's number wants it: Verb("heeft", "hebben")."""

    one: str
    many: str

    def form(self, count: int) -> str:
        return self.one if count == 1 else self.many


IS = Verb("is", "zijn")
HAS = Verb("heeft", "hebben")
CAN = Verb("kon", "konden")


def counted(count: int, noun: Noun, verb: Verb) -> str:
    """'1 bron kon', '2 bronnen konden': a counted subject with its verb."""
    return f"{noun.count(count)} {verb.form(count)}"


def part_of(part: int, total: int, noun: Noun, verb: Verb) -> str:
    """'1 van de 681 genodigden heeft', '2 van de 681 genodigden hebben'.

    The verb agrees with the part ("1 van de … heeft"), the noun with the whole.
    """
    return f"{number(part)} van de {noun.count(total)} {verb.form(part)}"


@dataclass(frozen=True, slots=True)
class DutchName:
    """How a sentence names something, with its article: DutchName("de", "maandelijkse nieuwsbrief").

    `phrase` is written as it stands after the article in mid-sentence (lower case, inflected:
    "het wekelijkse agendaoverzicht"), not as a heading.
    """

    article: str  # "de" or "het"
    phrase: str

    def __post_init__(self) -> None:
        if self.article not in ("de", "het"):
            raise ValueError(f"a Dutch definite article is 'de' or 'het', not {self.article!r}")

    @property
    def definite(self) -> str:
        """'de maandelijkse nieuwsbrief voor Statenleden'."""
        return f"{self.article} {self.phrase}"


def number(n: int) -> str:
    """'1.234': thousands grouped with a dot."""
    return format_decimal(n, locale="nl")


def moment(at: datetime) -> str:
    """'dinsdag 1 december 2026, 9.00 uur' (Europe/Amsterdam)."""
    return f"{long_date(at)}, {time_of_day(at)}"


def share(part: int, whole: int) -> str:
    """'12,5%' of the whole; '–' when there is no whole."""
    if whole <= 0:
        return "–"
    return format_decimal(100 * part / whole, format="#,##0.#", locale="nl") + "%"
