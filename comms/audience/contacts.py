"""Contacts from the griffies' exports: read leniently, checked strictly.

A griffie exports from Dutch Excel, so a file may be UTF-8 with or without a BOM
or Windows-1252, separated by `;` or `,`, with Dutch or English column names.
All of that is accepted. What is wrong inside a row is reported in the user's
own words (file, row as a spreadsheet numbers it, the column as the file names
it) and only that row is skipped, so one run shows every mistake.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, TextIO

from email_validator import EmailNotValidError, validate_email

from comms.domain import BODIES, ROLES, SEATS, body_by_name, normalise_role, province_by_name, theme_by_name
from comms.problems import Problem, Severity
from comms.text import strip_invisible

# Accepted column names per field, folded (see _fold_header); the first is the
# Dutch name used when we report a missing column.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("e-mailadres", "e-mail", "email"),
    "first_name": ("voornaam", "first name"),
    "infix": ("tussenvoegsel", "infix"),
    "last_name": ("achternaam", "last name"),
    "province": ("provincie", "province"),
    "roles": ("rollen", "rol", "roles"),
    "party": ("partij", "party"),
    "themes": ("thema's", "themas", "interesses", "themes"),
    "bodies": ("organen", "zetels", "ipo-organen", "ipo organen"),
}
_FIELD_BY_ALIAS = {alias: name for name, aliases in _COLUMNS.items() for alias in aliases}
_REQUIRED = ("email", "first_name", "last_name", "province", "roles")
_FREE_TEXT = ("first_name", "infix", "last_name", "party")

# Roles that belong to no province; every other role needs one.
_ROLES_WITHOUT_PROVINCE = frozenset({"ipo-staff"})

_DELIMITERS = (";", ",", "\t")  # tab: Excel's "Unicode text" export
_LIST_SEPARATOR = re.compile(r"[,|]")
# Seats: "BAC Landelijk Gebied (lid), IPO-bestuur (plaatsvervanger)"; `;` too, as Excel users write lists.
_SEAT_SEPARATOR = re.compile(r"[,;|]")
_SEAT = re.compile(r"^(?P<body>[^()]*?)\s*(?:\((?P<seat>[^()]*)\))?$")
_SEAT_ALIASES = {
    "member": "lid",
    "plv": "plaatsvervanger",
    "plv.": "plaatsvervanger",
    "substitute": "plaatsvervanger",
}


@dataclass(frozen=True, slots=True, order=True)
class BodySeat:
    """A seat in an IPO body: member ("lid") or substitute ("plaatsvervanger")."""

    body: str  # Body.id
    seat: str  # one of comms.domain.SEATS

    @property
    def stored(self) -> str:
        """As the contacts table keeps it: "bac-landelijk-gebied:lid"."""
        return f"{self.body}:{self.seat}"

    @property
    def is_substitute(self) -> bool:
        return self.seat == "plaatsvervanger"


class Contact(NamedTuple):
    """One person as an export lists them. A named tuple rather than a frozen dataclass: as
    immutable, and an import makes a million of them, at a quarter of the cost each."""

    email: str  # lowercased, so it doubles as the identity of the contact
    first_name: str
    infix: str  # tussenvoegsel ("de", "van der"), "" when there is none
    last_name: str
    province: str | None  # Province.name; None for IPO staff
    roles: frozenset[str]  # keys of comms.domain.ROLES
    party: str | None = None
    themes: frozenset[str] = frozenset()  # Theme.id
    bodies: frozenset[BodySeat] = frozenset()  # seats in the IPO-bestuur, BAC's, AV
    source: str = ""  # the file the contact was read from
    row: int = 0  # its row there, as a spreadsheet numbers it

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.infix, self.last_name) if part)

    @property
    def is_av_member(self) -> bool:
        return "av-lid" in self.roles

    def sits_on(self, body: str) -> bool:
        """Member or substitute of the body (a Body.id)."""
        return any(seat.body == body for seat in self.bodies)


@dataclass
class ContactFile:
    """The contacts that passed every check, and what was wrong with the rest."""

    contacts: list[Contact] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems)

    @property
    def file_errors(self) -> list[Problem]:
        """Errors that lost a whole file (unreadable, header wrong), not just a row."""
        return [p for p in self.problems if loses_the_file(p)]


def loses_the_file(problem: Problem) -> bool:
    """An error about the whole file (unreadable, header wrong), not just one row."""
    return problem.is_error and (problem.row is None or problem.row == 1)


class Row(NamedTuple):
    """One record of an export as read: its contact when every check passed, and what was
    wrong with it (or, with no contact and no row number, with the whole file)."""

    contact: Contact | None
    problems: tuple[Problem, ...] = ()


def read_contacts(path: Path) -> ContactFile:
    """Read one export; duplicates within the file are reported and skipped."""
    return read_audience([path])


def read_audience(paths: Iterable[Path]) -> ContactFile:
    """Read several exports in the given order into memory; the first of duplicate addresses
    is kept. For `comms check` and tests: the import streams (read_rows) and finds duplicates
    in the database, so that its memory does not grow with the audience."""
    merged = ContactFile()
    seen: dict[str, Contact] = {}
    for path in paths:
        for row in read_rows(path):
            problems = row.problems
            if row.contact is not None:
                duplicate = duplicate_problem(row.contact, seen.get(row.contact.email))
                if duplicate is None:
                    seen[row.contact.email] = row.contact
                    merged.contacts.append(row.contact)
                else:
                    problems = (duplicate,)  # skipped as a duplicate, whatever else it had
            merged.problems.extend(problems)
    return merged


def duplicate_problem(contact: Contact, first: Contact | None) -> Problem | None:
    """The problem of a later row with an address read before (None when it is the first)."""
    if first is None:
        return None
    return duplicate_of(contact.source, contact.row, contact.email, first.source, first.row)


def duplicate_of(where: str, row: int, email: str, first_where: str, first_row: int) -> Problem:
    return Problem(where, f"duplicate of row {first_row} in {first_where}", row=row, subject=email)


# --- reading the file -------------------------------------------------------------


def read_rows(path: Path) -> Iterator[Row]:
    """Stream one export, checked row by row, without holding the file in memory.

    A problem with the whole file (unreadable, no header, a required column missing) is one
    Row without contact whose problems have no row number or row 1 (see ContactFile.file_errors).
    """
    where = str(path)
    try:
        encoding = _encoding_of(path)
        yield from _read(where, path, encoding)
    except OSError as exc:
        yield Row(None, (Problem(where, f"cannot read the file: {exc.strerror or exc}"),))
    except UnicodeDecodeError:
        yield Row(None, (Problem(where, "cannot read the file as text (expected UTF-8 or Windows-1252)"),))


def _read(where: str, path: Path, encoding: str) -> Iterator[Row]:
    with path.open(encoding=encoding, newline="") as file:
        delimiter = _sniff_delimiter(file)
    with path.open(encoding=encoding, newline="") as file:
        records = _records(where, file, delimiter)
        first = next(records, None)
        if not isinstance(first, tuple):  # nothing, or a CSV error before any record
            problems = (first,) if first is not None else ()
            yield Row(None, (*problems, Problem(where, "the file has no header row")))
            return
        header_row, header = first
        columns, header_problems = _read_header(where, header_row, header)
        if header_problems:
            yield Row(None, tuple(header_problems))
            return
        layout = _Layout.of(where, columns, len(header))
        for record in records:
            if isinstance(record, Problem):
                yield Row(None, (record,))
            else:
                yield _read_row(layout, record[0], record[1])


_CHUNK = 1 << 20


def _encoding_of(path: Path) -> str:
    """How the whole file decodes, checked in chunks before the first row is read: a
    Windows-1252 byte near the end must not turn the file into another one halfway."""
    with path.open("rb") as file:
        start = file.read(4)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates: tuple[str, ...] = ("utf-16",)
    elif start.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8-sig", "cp1252")  # cp1252: "CSV (gescheiden door lijstscheidingsteken)"
    for encoding in candidates:
        if _decodes(path, encoding):
            return encoding
    raise UnicodeDecodeError(candidates[-1], b"", 0, 0, "not text")


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_delimiter(file: TextIO) -> str:
    """The separator that occurs most in the header line; `;` when in doubt."""
    header = next((line for line in file if line.strip()), "")
    return max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ";"


Record = tuple[int, list[str]]


def _records(where: str, file: TextIO, delimiter: str) -> Iterator[Record | Problem]:
    """Non-blank records numbered as a spreadsheet shows them (blank rows count); a CSV error
    ends the file with a problem."""
    reader = csv.reader(file, delimiter=delimiter)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            joined = "".join(cells)
            if not joined.strip():
                continue  # Excel writes cleared rows as ";;;;"
            if not unicodedata.is_normalized("NFC", joined):  # rare: decomposed accents (macOS)
                cells = [unicodedata.normalize("NFC", cell) for cell in cells]
            yield number, cells
    except csv.Error as exc:
        yield Problem(where, f"cannot read the CSV: {exc}", row=number + 1)


Columns = dict[str, tuple[int, str]]  # field -> (index, column name as the file writes it)


def _fold_header(text: str) -> str:
    text = text.replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")  # Excel autocorrects thema's
    return " ".join(text.replace("_", " ").lower().split())


def _read_header(where: str, row: int, header: list[str]) -> tuple[Columns, list[Problem]]:
    columns: Columns = {}
    problems: list[Problem] = []
    for index, cell in enumerate(header):
        name = _FIELD_BY_ALIAS.get(_fold_header(cell))
        if name is None:
            continue  # other columns (telefoon, functie) are the griffie's business
        if name in columns:
            reason = f"columns '{columns[name][1]}' and '{cell.strip()}' mean the same thing"
            problems.append(Problem(where, reason, row=row))
        else:
            columns[name] = (index, cell.strip())
    missing = [_COLUMNS[name][0] for name in _REQUIRED if name not in columns]
    if missing:
        found = ", ".join(f"'{cell.strip()}'" for cell in header if cell.strip())
        reason = f"missing required column(s) {', '.join(missing)}; columns found: {found}"
        problems.append(Problem(where, reason, row=row))
    return columns, problems


# --- checking one row ---------------------------------------------------------------
#
# An export of 100,000 people has a few hundred distinct cells in its role, theme, province
# and seat columns, and a few dozen mail domains: those checks are cached by the cell's raw
# text, so each spelling is folded and looked up once.

_CACHE = 4096


_FIELDS = tuple(_COLUMNS)  # the order of _Layout.indices


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where this file keeps each field, and what it calls it; worked out once per file."""

    where: str
    width: int  # cells in the header
    indices: tuple[int, ...]  # per field of _FIELDS; -1 for an optional column the file lacks
    label: dict[str, str]

    @classmethod
    def of(cls, where: str, columns: Columns, width: int) -> _Layout:
        indices = tuple(columns[name][0] if name in columns else -1 for name in _FIELDS)
        return cls(where, width, indices, {name: column for name, (_, column) in columns.items()})


def _read_row(layout: _Layout, row: int, cells: list[str]) -> Row:
    too_wide = _check_width(cells, layout.width)
    if len(cells) < layout.width:
        cells.extend([""] * (layout.width - len(cells)))
    cells.append("")  # what index -1 reads: a column this file does not have
    email_raw, first, infix, last, province_raw, roles_raw, party, themes_raw, bodies_raw = [
        cells[i].strip() for i in layout.indices
    ]
    # names go into the To header and the mail: no bidi tricks there
    first, infix, last, party = _visible(first), _visible(infix), _visible(last), _visible(party)
    label = layout.label
    email, reasons = _check_email(email_raw, label["email"])
    reasons += too_wide
    reasons += _check_names((first, infix, last, party), label)
    roles, role_reasons = _keys(roles_raw, "role")
    if not roles and not role_reasons:
        role_reasons = (f"{label['roles']} is empty",)
    themes, theme_reasons = _keys(themes_raw, "theme")
    bodies, body_reasons = _seats(bodies_raw, label.get("bodies", ""))
    province, province_reasons = _check_province(province_raw, label["province"], roles)
    reasons += [*role_reasons, *province_reasons, *theme_reasons, *body_reasons]

    where = layout.where
    if reasons:
        subject = email_raw or f"row {row}"
        return Row(None, tuple(Problem(where, reason, row=row, subject=subject) for reason in reasons))
    contact = Contact(email, first, infix, last, province, roles, party or None, themes, bodies, where, row)
    return Row(contact, _address_warnings(where, row, email))


def _visible(text: str) -> str:
    # Format characters (Cf) are unprintable: a printable name, accents and all, has none.
    return text if text.isprintable() else strip_invisible(text).strip()


def _address_warnings(where: str, row: int, email: str) -> tuple[Problem, ...]:
    """A local part with non-ASCII characters (jörg@…) is a valid address (RFC 6531), so the
    row is kept: the contact is right, and a relay with SMTPUTF8 delivers it. It is named here
    because a relay without SMTPUTF8, and SendGrid, cannot: that message fails at send time."""
    if email.isascii() or email.rpartition("@")[0].isascii():
        return ()
    reason = (
        "the address has non-ASCII characters before the @: kept, but only a mail relay that "
        "offers SMTPUTF8 can deliver to it (SendGrid and relays without SMTPUTF8 fail it)"
    )
    return (Problem(where, reason, row=row, subject=email, severity=Severity.WARNING),)


def _check_email(raw: str, column: str) -> tuple[str, list[str]]:
    if not raw:
        return "", [f"{column} is empty"]
    plain = _plain_address(raw)
    if plain is not None:
        return plain, []
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        return "", [f"invalid email address: {exc}"]
    return checked.normalized.lower(), []


# The address as nearly every export writes it: an unquoted ASCII local part (RFC 5322
# dot-atom, which email_validator accepts as it is) and an ASCII host name. For those the
# verdict is the domain's, which is cached; anything else goes through validate_email whole,
# so that every message about a bad address stays the library's own.
_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"
_PLAIN = re.compile(rf"(?P<local>[{_ATEXT}]+(?:\.[{_ATEXT}]+)*)@(?P<host>[a-zA-Z0-9.\-]+)")
_MAX_ADDRESS = 254  # octets, RFC 5321 (email_validator's EMAIL_MAX_LENGTH)


def _plain_address(raw: str) -> str | None:
    """The normalised, lowercased address when it is plain and valid; None: ask validate_email."""
    plain = _PLAIN.fullmatch(raw)
    if plain is None:
        return None
    local, host = plain.group("local", "host")
    domain = _valid_domain(host)
    if domain is None:
        return None  # invalid: validate_email says why, in its words
    unicode_domain, ascii_domain = domain
    longest = max(len(host), len(unicode_domain.encode()), len(ascii_domain))
    if len(local) + 1 + longest > _MAX_ADDRESS:
        return None  # too long: validate_email says by how much
    return f"{local}@{unicode_domain}".lower()


@lru_cache(maxsize=_CACHE)
def _valid_domain(host: str) -> tuple[str, str] | None:
    """The domain as validate_email normalises it (Unicode, IDNA ASCII), or None if invalid."""
    try:
        checked = validate_email(f"a@{host}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


def _check_width(cells: list[str], width: int) -> list[str]:
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        count = len(cells)
        return [f"has {count} values but the header has {width} columns (an unquoted separator?)"]
    return []


def _check_names(texts: tuple[str, str, str, str], label: dict[str, str]) -> list[str]:
    first, _, last, _ = texts
    if first and last and "".join(texts).isprintable():
        return []  # nearly every row: both names given, and no control character (unprintable)
    reasons = []
    for name, text in zip(_FREE_TEXT, texts, strict=True):
        if name in _REQUIRED and not text:
            reasons.append(f"{label[name]} is empty")
        elif _has_control_character(text):
            # These end up in mail headers (To: "Anna de Vries"); a line break there is injection.
            reasons.append(f"{label[name]} contains a line break or control character")
    return reasons


def _has_control_character(text: str) -> bool:
    if text.isprintable():  # Cc, Zl and Zp are all unprintable: most names end here, in C
        return False
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


_LOOKUPS: dict[str, Callable[[str], str | None]] = {
    "role": normalise_role,
    "theme": lambda text: theme.id if (theme := theme_by_name(text)) else None,
}


@lru_cache(maxsize=_CACHE)
def _keys(raw: str, what: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Split a cell like "statenlid, av-lid" or "statenlid|av-lid" into known keys."""
    lookup = _LOOKUPS[what]
    parts = [part.strip() for part in _LIST_SEPARATOR.split(raw) if part.strip()]
    unknown = tuple(f"unknown {what} '{part}'" for part in parts if lookup(part) is None)
    return frozenset(key for part in parts if (key := lookup(part))), unknown


@lru_cache(maxsize=_CACHE)
def _seats(raw: str, column: str) -> tuple[frozenset[BodySeat], tuple[str, ...]]:
    """ "BAC Landelijk Gebied (lid); IPO-bestuur (plaatsvervanger)" into seats."""
    seats: set[BodySeat] = set()
    reasons: list[str] = []
    for part in filter(None, (p.strip() for p in _SEAT_SEPARATOR.split(raw))):
        seat, reason = _seat(part, column)
        if seat is not None:
            seats.add(seat)
        if reason is not None:
            reasons.append(reason)
    for body in BODIES:
        if sum(seat.body == body.id for seat in seats) > 1:  # one person cannot substitute for themselves
            reasons.append(f"{column}: {body.name} both as {' and as '.join(SEATS)}")
    return frozenset(seats), tuple(reasons)


def _seat(part: str, column: str) -> tuple[BodySeat | None, str | None]:
    found = _SEAT.match(part)
    body = body_by_name(found["body"]) if found and found["body"] else None
    if found is None or body is None:
        known = ", ".join(b.name for b in BODIES)
        return None, f"unknown body '{part}' in {column} (known: {known})"
    seat = _seat_name(found["seat"])
    if seat is None:
        return None, f"unknown seat '{found['seat']}' in {column}: '{part}' (write {' or '.join(SEATS)})"
    return BodySeat(body.id, seat), None


def _seat_name(text: str | None) -> str | None:
    """The seat in brackets; none given means a member."""
    if text is None or not text.strip():
        return SEATS[0]
    key = " ".join(text.lower().split())
    key = _SEAT_ALIASES.get(key, key)
    return key if key in SEATS else None


@lru_cache(maxsize=_CACHE)
def _check_province(raw: str, column: str, roles: frozenset[str]) -> tuple[str | None, tuple[str, ...]]:
    if raw:
        province = province_by_name(raw)
        return (province.name, ()) if province else (None, (f"unknown province '{raw}'",))
    tied = [role for role in ROLES if role in roles and role not in _ROLES_WITHOUT_PROVINCE]
    if tied:
        return None, (f"{column} is empty; role '{tied[0]}' needs a province",)
    return None, ()
