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
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class Contact:
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
        return [p for p in self.problems if p.is_error and (p.row is None or p.row == 1)]


def read_contacts(path: Path) -> ContactFile:
    """Read one export; duplicates within the file are reported and skipped."""
    return _read(path, seen={})


def read_audience(paths: Iterable[Path]) -> ContactFile:
    """Read several exports in the given order; the first of duplicate addresses is kept."""
    merged = ContactFile()
    seen: dict[str, Contact] = {}
    for path in paths:
        part = _read(path, seen)
        merged.contacts.extend(part.contacts)
        merged.problems.extend(part.problems)
    return merged


# --- reading the file -------------------------------------------------------------


def _read(path: Path, seen: dict[str, Contact]) -> ContactFile:
    where = str(path)
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror or exc}"
        return ContactFile(problems=[Problem(where, reason)])
    except UnicodeDecodeError:
        reason = "cannot read the file as text (expected UTF-8 or Windows-1252)"
        return ContactFile(problems=[Problem(where, reason)])

    records, problems = _records(where, text)
    if not records:
        return ContactFile(problems=[*problems, Problem(where, "the file has no header row")])
    (header_row, header), *rows = records
    columns, header_problems = _read_header(where, header_row, header)
    if header_problems:
        return ContactFile(problems=[*problems, *header_problems])

    result = ContactFile(problems=problems)
    for number, cells in rows:
        contact, row_problems = _read_row(where, number, cells, columns, len(header))
        if contact is not None:
            duplicate = _duplicate_of(contact, seen)
            if not duplicate:
                seen[contact.email] = contact
                result.contacts.append(contact)
            row_problems = duplicate or row_problems  # kept with a warning, or skipped as a duplicate
        result.problems.extend(row_problems)
    return result


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")  # "CSV (gescheiden door lijstscheidingsteken)"


def _sniff_delimiter(text: str) -> str:
    """The separator that occurs most in the header line; `;` when in doubt."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ";"


Record = tuple[int, list[str]]


def _records(where: str, text: str) -> tuple[list[Record], list[Problem]]:
    """Non-blank records numbered as a spreadsheet shows them (blank rows count)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    records: list[Record] = []
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if any(cell.strip() for cell in cells):  # Excel writes cleared rows as ";;;;"
                records.append((number, [unicodedata.normalize("NFC", c) for c in cells]))
    except csv.Error as exc:
        return records, [Problem(where, f"cannot read the CSV: {exc}", row=number + 1)]
    return records, []


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


def _read_row(
    where: str, row: int, cells: list[str], columns: Columns, width: int
) -> tuple[Contact | None, list[Problem]]:
    value = {name: cells[i].strip() if i < len(cells) else "" for name, (i, _) in columns.items()}
    for name in _FREE_TEXT:  # names go into the To header and the mail: no bidi tricks there
        if name in value:
            value[name] = strip_invisible(value[name]).strip()
    label = {name: column for name, (_, column) in columns.items()}
    email, reasons = _check_email(value["email"], label["email"])
    reasons += _check_width(cells, width)
    reasons += _check_names(value, label)
    roles, role_reasons = _keys(value["roles"], normalise_role, "role")
    if not roles and not role_reasons:
        role_reasons = [f"{label['roles']} is empty"]
    themes, theme_reasons = _keys(value.get("themes", ""), _theme_id, "theme")
    bodies, body_reasons = _seats(value.get("bodies", ""), label.get("bodies", ""))
    province, province_reasons = _check_province(value["province"], label["province"], roles)
    reasons += role_reasons + province_reasons + theme_reasons + body_reasons

    subject = value["email"] or f"row {row}"
    if reasons:
        return None, [Problem(where, reason, row=row, subject=subject) for reason in reasons]
    contact = Contact(
        email=email,
        first_name=value["first_name"],
        infix=value.get("infix", ""),
        last_name=value["last_name"],
        province=province,
        roles=roles,
        party=value.get("party") or None,
        themes=themes,
        bodies=bodies,
        source=where,
        row=row,
    )
    return contact, _address_warnings(where, row, email)


def _address_warnings(where: str, row: int, email: str) -> list[Problem]:
    """A local part with non-ASCII characters (jörg@…) is a valid address (RFC 6531), so the
    row is kept: the contact is right, and a relay with SMTPUTF8 delivers it. It is named here
    because a relay without SMTPUTF8, and SendGrid, cannot: that message fails at send time."""
    if email.rpartition("@")[0].isascii():
        return []
    reason = (
        "the address has non-ASCII characters before the @: kept, but only a mail relay that "
        "offers SMTPUTF8 can deliver to it (SendGrid and relays without SMTPUTF8 fail it)"
    )
    return [Problem(where, reason, row=row, subject=email, severity=Severity.WARNING)]


def _check_email(raw: str, column: str) -> tuple[str, list[str]]:
    if not raw:
        return "", [f"{column} is empty"]
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        return "", [f"invalid email address: {exc}"]
    return checked.normalized.lower(), []


def _check_width(cells: list[str], width: int) -> list[str]:
    if any(cell.strip() for cell in cells[width:]):
        count = len(cells)
        return [f"has {count} values but the header has {width} columns (an unquoted separator?)"]
    return []


def _check_names(value: dict[str, str], label: dict[str, str]) -> list[str]:
    reasons = []
    for name in _FREE_TEXT:
        text = value.get(name, "")
        if name in _REQUIRED and not text:
            reasons.append(f"{label[name]} is empty")
        elif _has_control_character(text):
            # These end up in mail headers (To: "Anna de Vries"); a line break there is injection.
            reasons.append(f"{label[name]} contains a line break or control character")
    return reasons


def _has_control_character(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


def _keys(raw: str, lookup: Callable[[str], str | None], what: str) -> tuple[frozenset[str], list[str]]:
    """Split a cell like "statenlid, av-lid" or "statenlid|av-lid" into known keys."""
    parts = [part.strip() for part in _LIST_SEPARATOR.split(raw) if part.strip()]
    unknown = [f"unknown {what} '{part}'" for part in parts if lookup(part) is None]
    return frozenset(key for part in parts if (key := lookup(part))), unknown


def _theme_id(text: str) -> str | None:
    theme = theme_by_name(text)
    return theme.id if theme else None


def _seats(raw: str, column: str) -> tuple[frozenset[BodySeat], list[str]]:
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
    return frozenset(seats), reasons


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


def _check_province(raw: str, column: str, roles: frozenset[str]) -> tuple[str | None, list[str]]:
    if raw:
        province = province_by_name(raw)
        return (province.name, []) if province else (None, [f"unknown province '{raw}'"])
    tied = [role for role in ROLES if role in roles and role not in _ROLES_WITHOUT_PROVINCE]
    if tied:
        return None, [f"{column} is empty; role '{tied[0]}' needs a province"]
    return None, []


def _duplicate_of(contact: Contact, seen: dict[str, Contact]) -> list[Problem]:
    first = seen.get(contact.email)
    if first is None:
        return []
    reason = f"duplicate of row {first.row} in {first.source}"
    return [Problem(contact.source, reason, row=contact.row, subject=contact.email)]
