from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from comms.audience.contacts import Contact, read_audience, read_contacts, read_rows
from comms.audience.resolve import seat_clause
from comms.audience.sync import import_contacts
from comms.domain import PROVINCES, SEATS, THEMES
from comms.store.database import Database
from comms.store.models import Contact as ContactModel

SAMPLE = Path(__file__).resolve().parents[2] / "audiences" / "contacts"
HEADER = "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's"
GOOD = "anna.devries@utrecht.example.org;Anna;de;Vries;Utrecht;statenlid;D66;Landelijk Gebied"


def write_csv(
    tmp_path: Path, lines: list[str], name: str = "contacts.csv", encoding: str = "utf-8-sig"
) -> Path:
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def messages(problems: list) -> list[str]:
    return [str(p) for p in problems]


def test_a_good_row_becomes_a_contact(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER, GOOD])
    result = read_contacts(path)
    assert result.problems == []
    assert result.contacts == [
        Contact(
            email="anna.devries@utrecht.example.org",
            first_name="Anna",
            infix="de",
            last_name="Vries",
            province="Utrecht",
            roles=frozenset({"statenlid"}),
            party="D66",
            themes=frozenset({"landelijk-gebied"}),
            source=str(path),
            row=2,
        )
    ]
    assert result.contacts[0].display_name == "Anna de Vries"
    assert not result.contacts[0].is_av_member


@pytest.mark.parametrize(
    ("row", "subject", "reason"),
    [
        pytest.param(
            "jan.jansen@x.example.org;Jan;;Jansen;Frieslandd;statenlid;;",
            "jan.jansen@x.example.org",
            "unknown province 'Frieslandd'",
            id="unknown province",
        ),
        pytest.param(
            "jan.jansen@x.example.org;Jan;;Jansen;Utrecht;statenlid, wethouder;;",
            "jan.jansen@x.example.org",
            "unknown role 'wethouder'",
            id="unknown role",
        ),
        pytest.param(
            "jan.jansen@x.example.org;Jan;;Jansen;Utrecht;statenlid;;Sport",
            "jan.jansen@x.example.org",
            "unknown theme 'Sport'",
            id="unknown theme",
        ),
        pytest.param(
            "jan.jansen@x.example.org;;;Jansen;Utrecht;statenlid;;",
            "jan.jansen@x.example.org",
            "voornaam is empty",
            id="empty first name",
        ),
        pytest.param(
            ";Jan;;Jansen;Utrecht;statenlid;;",
            "row 3",
            "e-mailadres is empty",
            id="empty address names the row",
        ),
        pytest.param(
            "jan.jansen@x.example.org;Jan;;Jansen;Utrecht;;;",
            "jan.jansen@x.example.org",
            "rollen is empty",
            id="empty roles",
        ),
        pytest.param(
            "jan.jansen@x.example.org;Jan;;Jansen;;statenlid;;",
            "jan.jansen@x.example.org",
            "provincie is empty; role 'statenlid' needs a province",
            id="statenlid without province",
        ),
        pytest.param(
            'jan.jansen@x.example.org;"Jan\nPeter";;Jansen;Utrecht;statenlid;;',
            "jan.jansen@x.example.org",
            "voornaam contains a line break or control character",
            id="line break in a name",
        ),
        pytest.param(
            "jan.jansen@x.example.org;Jan;;Jansen\x07;Utrecht;statenlid;;",
            "jan.jansen@x.example.org",
            "achternaam contains a line break or control character",
            id="control character in a name",
        ),
        pytest.param(
            "jan.jansen@x.example.org;Jan;;Jansen;Utrecht;statenlid;;;Zwolle",
            "jan.jansen@x.example.org",
            "has 9 values but the header has 8 columns (an unquoted separator?)",
            id="too many values",
        ),
    ],
)
def test_a_bad_row_is_reported_and_skipped(tmp_path: Path, row: str, subject: str, reason: str) -> None:
    path = write_csv(tmp_path, [HEADER, GOOD, row])
    result = read_contacts(path)
    assert messages(result.problems) == [f"{path}, row 3 [{subject}]: {reason}"]
    assert [c.email for c in result.contacts] == ["anna.devries@utrecht.example.org"]
    assert result.has_errors


@pytest.mark.parametrize(
    "address",
    ["jan.jansen.example.org", "jan@localhost", "jan jansen@x.example.org", "jan@@x.example.org"],
)
def test_an_invalid_address_is_reported_with_the_validators_reason(tmp_path: Path, address: str) -> None:
    path = write_csv(tmp_path, [HEADER, GOOD, f"{address};Jan;;Jansen;Utrecht;statenlid;;"])
    result = read_contacts(path)
    [problem] = messages(result.problems)
    assert problem.startswith(f"{path}, row 3 [{address}]: invalid email address: ")
    assert len(problem) > len(f"{path}, row 3 [{address}]: invalid email address: ") + 10
    assert len(result.contacts) == 1


@pytest.mark.parametrize(
    ("row", "attribute", "expected"),
    [
        pytest.param(
            "Anna.DeVries@Utrecht.Example.ORG;Anna;de;Vries;Utrecht;statenlid;;",
            "email",
            "anna.devries@utrecht.example.org",
            id="address lowercased",
        ),
        pytest.param(
            "piet.post@ipo.example.org;Piet;;Post;;ipo-staff;;",
            "province",
            None,
            id="ipo staff without province",
        ),
        pytest.param(
            "jan@x.example.org;Jan;;Jansen;Friesland;statenlid;;",
            "province",
            "Fryslân",
            id="province alias",
        ),
        pytest.param(
            "jan@x.example.org;Jan;;Jansen;noord holland;statenlid;;",
            "province",
            "Noord-Holland",
            id="province spelling",
        ),
        pytest.param(
            "jan@x.example.org;Jan;;Jansen;Utrecht;Statenlid|AV;;",
            "roles",
            frozenset({"statenlid", "av-lid"}),
            id="roles with a pipe and an alias",
        ),
        pytest.param(
            "jan@x.example.org;Jan;;Jansen;Utrecht;statenlid;;landelijk-gebied, Financiën & Openbaar Bestuur",
            "themes",
            frozenset({"landelijk-gebied", "financien-openbaar-bestuur"}),
            id="themes by id and by name",
        ),
        pytest.param(
            "jan@x.example.org;Jan;;Jansen;Utrecht;statenlid;;",
            "party",
            None,
            id="no party",
        ),
    ],
)
def test_variations_a_griffie_may_write_are_accepted(
    tmp_path: Path, row: str, attribute: str, expected: object
) -> None:
    result = read_contacts(write_csv(tmp_path, [HEADER, row]))
    assert result.problems == []
    assert getattr(result.contacts[0], attribute) == expected


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        pytest.param("utf-8-sig", ";", id="UTF-8 with BOM, semicolons"),
        pytest.param("utf-8", ";", id="UTF-8 without BOM, semicolons"),
        pytest.param("cp1252", ";", id="Windows-1252, semicolons"),
        pytest.param("utf-8", ",", id="UTF-8, commas"),
        pytest.param("cp1252", ",", id="Windows-1252, commas"),
    ],
)
def test_encoding_and_delimiter_are_detected(tmp_path: Path, encoding: str, delimiter: str) -> None:
    rows = [
        ["e-mailadres", "voornaam", "tussenvoegsel", "achternaam", "provincie", "rollen"],
        ["s.hoekstra@fryslan.example.org", "Sjoukje", "", "Hoekstra-Dijkstra", "Fryslân",
         '"statenlid, av-lid"'],
        ["i.bakker@limburg.example.org", "Ingrid", "", "Bakker-Ömer", "Limburg", "gedeputeerde"],
        ["z.debruijn@limburg.example.org", "Zoë", "de", "Bruijn", "Limburg", "griffie"],
    ]  # fmt: skip
    path = write_csv(tmp_path, [delimiter.join(r) for r in rows], encoding=encoding)
    result = read_contacts(path)
    assert result.problems == []
    assert [(c.display_name, c.province) for c in result.contacts] == [
        ("Sjoukje Hoekstra-Dijkstra", "Fryslân"),
        ("Ingrid Bakker-Ömer", "Limburg"),
        ("Zoë de Bruijn", "Limburg"),
    ]
    assert result.contacts[0].is_av_member


def test_english_column_names_are_accepted(tmp_path: Path) -> None:
    lines = [
        "Email,First_Name,Infix,Last_Name,Province,Roles,Party,Themes",
        "anna@utrecht.example.org,Anna,de,Vries,Utrecht,statenlid,D66,landelijk-gebied",
    ]
    result = read_contacts(write_csv(tmp_path, lines, encoding="utf-8"))
    assert result.problems == []
    assert result.contacts[0].display_name == "Anna de Vries"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(
            "e-mailadres;voornaam;tussenvoegsel;provincie;rollen",
            "missing required column(s) achternaam; columns found: "
            "'e-mailadres', 'voornaam', 'tussenvoegsel', 'provincie', 'rollen'",
            id="no last name",
        ),
        pytest.param(
            "naam;mail;provincie",
            "missing required column(s) e-mailadres, voornaam, achternaam, rollen; "
            "columns found: 'naam', 'mail', 'provincie'",
            id="several missing",
        ),
        pytest.param(
            "e-mailadres;e-mail;voornaam;achternaam;provincie;rollen",
            "columns 'e-mailadres' and 'e-mail' mean the same thing",
            id="the same column twice",
        ),
    ],
)
def test_a_header_problem_rejects_the_whole_file(tmp_path: Path, header: str, reason: str) -> None:
    path = write_csv(tmp_path, [header, "anna@x.example.org;Anna;de;Vries;Utrecht;statenlid"])
    result = read_contacts(path)
    assert messages(result.problems) == [f"{path}, row 1: {reason}"]
    assert result.contacts == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(b"", "the file has no header row", id="empty"),
        pytest.param(b"\xef\xbb\xbf\r\n;;;\r\n", "the file has no header row", id="only blanks"),
        pytest.param(
            b"email\x81\x8d;x\r\n",
            "cannot read the file as text (expected UTF-8 or Windows-1252)",
            id="not text",
        ),
    ],
)
def test_an_unreadable_file_is_one_problem(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    assert messages(read_contacts(path).problems) == [f"{path}: {reason}"]


def test_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "groningen.csv"
    assert messages(read_contacts(path).problems) == [
        f"{path}: cannot read the file: No such file or directory"
    ]


def test_every_bad_row_is_reported_at_once_and_good_rows_are_kept(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            HEADER,  # row 1
            GOOD,  # row 2
            "jan@x.example.org;Jan;;Jansen;Frieslandd;wethouder;;",  # row 3: two problems
            "",  # row 4: blank rows are skipped but keep their number
            "piet@ipo.example.org;Piet;;Post;;ipo-staff;;",  # row 5
            "kees@@x.example.org;;;Kok;Zeeland;statenlid;;Sport",  # row 6: three problems
            ";;;;;;;",  # row 7: a row Excel left behind
            "els@zeeland.example.org;Els;;;Zeeland;cdk;;",  # row 8
        ],
    )
    result = read_contacts(path)
    found = messages(result.problems)
    assert found[:2] == [
        f"{path}, row 3 [jan@x.example.org]: unknown role 'wethouder'",
        f"{path}, row 3 [jan@x.example.org]: unknown province 'Frieslandd'",
    ]
    assert found[2].startswith(f"{path}, row 6 [kees@@x.example.org]: invalid email address: ")
    assert found[3:] == [
        f"{path}, row 6 [kees@@x.example.org]: voornaam is empty",
        f"{path}, row 6 [kees@@x.example.org]: unknown theme 'Sport'",
        f"{path}, row 8 [els@zeeland.example.org]: achternaam is empty",
    ]
    assert [(c.email, c.row) for c in result.contacts] == [
        ("anna.devries@utrecht.example.org", 2),
        ("piet@ipo.example.org", 5),
    ]


@pytest.mark.parametrize(
    ("files", "duplicate", "first"),
    [
        pytest.param(
            {"utrecht.csv": [GOOD, "jan@x.example.org;Jan;;Jansen;Utrecht;statenlid;;", GOOD]},
            ("utrecht.csv", 4),
            ("utrecht.csv", 2),
            id="same file",
        ),
        pytest.param(
            {"utrecht.csv": [GOOD], "ipo.csv": [GOOD.replace("anna.devries", "ANNA.DEVRIES")]},
            ("ipo.csv", 2),
            ("utrecht.csv", 2),
            id="across files, whatever the case",
        ),
    ],
)
def test_a_duplicate_address_names_the_first_and_keeps_it(
    tmp_path: Path,
    files: dict[str, list[str]],
    duplicate: tuple[str, int],
    first: tuple[str, int],
) -> None:
    paths = [write_csv(tmp_path, [HEADER, *rows], name) for name, rows in files.items()]
    result = read_audience(paths)
    later, first_path = tmp_path / duplicate[0], tmp_path / first[0]
    assert messages(result.problems) == [
        f"{later}, row {duplicate[1]} [anna.devries@utrecht.example.org]: "
        f"duplicate of row {first[1]} in {first_path}"
    ]
    anna = [c for c in result.contacts if c.email == "anna.devries@utrecht.example.org"]
    assert [(c.source, c.row) for c in anna] == [(str(first_path), first[1])]


# --- the sample audience -------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> list[Contact]:
    result = read_audience(sorted(SAMPLE.glob("*.csv")))
    assert messages(result.problems) == []
    return result.contacts


def test_the_sample_has_every_statenlid_and_the_av(sample: list[Contact]) -> None:
    assert sum("statenlid" in c.roles for c in sample) == 572
    assert sum(c.is_av_member for c in sample) == 24
    assert all(c.email.endswith(".example.org") for c in sample)


@pytest.mark.parametrize("province", PROVINCES, ids=lambda p: p.slug)
def test_the_sample_has_each_provinces_seats(sample: list[Contact], province) -> None:
    members = [c for c in sample if c.province == province.name]
    assert sum("statenlid" in c.roles for c in members) == province.seats
    assert sum(c.is_av_member for c in members) == 2
    assert sum("cdk" in c.roles for c in members) == 1
    assert 5 <= sum("gedeputeerde" in c.roles for c in members) <= 7


@pytest.mark.parametrize(
    ("name", "province"),
    [("Sjoukje Hoekstra-Dijkstra", "Fryslân"), ("Ingrid Bakker-Ömer", "Limburg")],
)
def test_the_sample_survives_windows_1252(sample: list[Contact], name: str, province: str) -> None:
    assert any(c.display_name == name and c.province == province for c in sample)


# --- seats in IPO bodies (column "organen") ---------------------------------------------

SEATED_HEADER = HEADER + ";organen"
ANNA = "anna.bakker@utrecht.example.org;Anna;;Bakker;Utrecht;gedeputeerde, bac-lid;D66;"


@pytest.mark.parametrize(
    ("header", "cell", "expected"),
    [
        pytest.param(
            "organen",
            "BAC Landelijk Gebied (lid), IPO-bestuur (plaatsvervanger)",
            {("bac-landelijk-gebied", "lid"), ("ipo-bestuur", "plaatsvervanger")},
            id="names with seats",
        ),
        pytest.param(
            "Zetels",
            '"BAC Financiën & Openbaar Bestuur; bac-klimaat-leefomgeving (Plaatsvervanger)"',
            {("bac-financien-openbaar-bestuur", "lid"), ("bac-klimaat-leefomgeving", "plaatsvervanger")},
            id="semicolons, an id, seat left out means lid",
        ),
        pytest.param(
            "IPO-organen",
            "Landelijk Gebied (plv)|AV ( lid )",
            {("bac-landelijk-gebied", "plaatsvervanger"), ("av", "lid")},
            id="pipe, a theme name for its BAC, an abbreviation",
        ),
        pytest.param("organen", "", set(), id="empty"),
    ],
)
def test_seats_in_ipo_bodies_are_read(tmp_path: Path, header: str, cell: str, expected: set) -> None:
    path = write_csv(tmp_path, [f"{HEADER};{header}", ANNA + ";" + cell])
    result = read_contacts(path)
    assert messages(result.problems) == []
    [contact] = result.contacts
    assert {(seat.body, seat.seat) for seat in contact.bodies} == expected
    assert contact.sits_on("bac-landelijk-gebied") == any(b == "bac-landelijk-gebied" for b, _ in expected)


def test_a_file_without_the_column_has_no_seats(tmp_path: Path) -> None:
    [contact] = read_contacts(write_csv(tmp_path, [HEADER, GOOD])).contacts
    assert contact.bodies == frozenset()


def test_seats_in_a_comma_separated_file_are_quoted(tmp_path: Path) -> None:
    lines = [
        SEATED_HEADER.replace(";", ","),
        'anna@utrecht.example.org,Anna,de,Vries,Utrecht,gedeputeerde,,,"IPO-bestuur (lid), AV"',
    ]
    [contact] = read_contacts(write_csv(tmp_path, lines, encoding="utf-8")).contacts
    assert sorted(seat.stored for seat in contact.bodies) == ["av:lid", "ipo-bestuur:lid"]


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        pytest.param(
            "BAC Sport (lid)",
            "unknown body 'BAC Sport (lid)' in organen (known: IPO-bestuur, BAC Wonen & Bereikbaarheid, "
            "BAC Landelijk Gebied, BAC Klimaat & Leefomgeving, BAC Ondernemen & Cultuur, "
            "BAC Financiën & Openbaar Bestuur, Algemene Vergadering)",
            id="unknown body",
        ),
        pytest.param(
            "IPO-bestuur (voorzitter)",
            "unknown seat 'voorzitter' in organen: 'IPO-bestuur (voorzitter)' (write lid or plaatsvervanger)",
            id="unknown seat",
        ),
        pytest.param(
            "IPO-bestuur (lid (oud))",
            "unknown body 'IPO-bestuur (lid (oud))' in organen (known: IPO-bestuur, "
            "BAC Wonen & Bereikbaarheid, BAC Landelijk Gebied, BAC Klimaat & Leefomgeving, "
            "BAC Ondernemen & Cultuur, BAC Financiën & Openbaar Bestuur, Algemene Vergadering)",
            id="brackets that do not close as expected",
        ),
        pytest.param(
            "BAC Landelijk Gebied (lid), Landelijk Gebied (plaatsvervanger)",
            "organen: BAC Landelijk Gebied both as lid and as plaatsvervanger",
            id="member and substitute of one body",
        ),
    ],
)
def test_a_bad_seat_is_reported_and_the_row_skipped(tmp_path: Path, cell: str, reason: str) -> None:
    path = write_csv(tmp_path, [SEATED_HEADER, GOOD + ";", ANNA + ";" + cell])
    result = read_contacts(path)
    assert messages(result.problems) == [f"{path}, row 3 [anna.bakker@utrecht.example.org]: {reason}"]
    assert [c.row for c in result.contacts] == [2]  # as with any other bad value: only that row goes
    assert result.has_errors


def test_every_province_has_a_member_and_a_substitute_in_every_body(sample: list[Contact]) -> None:
    bodies = ["ipo-bestuur", *(f"bac-{t.id}" for t in THEMES)]
    seats = Counter((c.province, s.body, s.seat) for c in sample for s in c.bodies)
    expected = {(p.name, b, s): 1 for p in PROVINCES for b in bodies for s in SEATS}
    assert dict(seats) == expected
    assert all("gedeputeerde" in c.roles for c in sample if c.bodies)
    assert all(c.sits_on("ipo-bestuur") for c in sample if "ipo-bestuurslid" in c.roles)


def test_seats_are_stored_and_selected_by_seat_clause(db: Database, sample: list[Contact]) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with db.session() as session:
        import_contacts(session, sample, now)
    with db.session() as session:
        chosen = session.scalars(
            select(ContactModel.email).where(
                seat_clause("bac-landelijk-gebied"), ContactModel.province == "Utrecht"
            )
        ).all()
        stored = session.scalars(select(ContactModel.bodies).where(ContactModel.email.in_(chosen))).all()
    expected = {c.email for c in sample if c.province == "Utrecht" and c.sits_on("bac-landelijk-gebied")}
    assert set(chosen) == expected and len(expected) == 2
    assert all(",bac-landelijk-gebied:" in value and value.startswith(",") for value in stored)


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [
        ("\u202eAnna", "Vries\u202c", "Anna de Vries"),
        ("An\u200bna", "\u2066Vries\u2069", "Anna de Vries"),
        ("\ufeffAnna\u200e", "Vries\u061c", "Anna de Vries"),
    ],
    ids=["RLO and PDF", "zero-width space and isolates", "BOM, LRM and ALM"],
)
def test_invisible_characters_are_stripped_from_names(
    tmp_path: Path, first: str, last: str, shown: str
) -> None:
    row = f"anna.devries@utrecht.example.org;{first};de;{last};Utrecht;statenlid;D66;Landelijk Gebied"

    result = read_contacts(write_csv(tmp_path, [HEADER, row]))

    assert result.problems == []
    assert [c.display_name for c in result.contacts] == [shown]


@pytest.mark.parametrize(
    ("address", "stored", "warned"),
    [
        ("jan@xn--bcher-kva.example", "jan@bücher.example", False),  # one domain, either spelling
        ("anna@bücher.example", "anna@bücher.example", False),
        ("jörg@example.org", "jörg@example.org", True),
    ],
)
def test_an_international_address_is_kept_and_a_non_ascii_local_part_is_named_with_file_and_row(
    tmp_path: Path, address: str, stored: str, warned: bool
) -> None:
    path = write_csv(tmp_path, [HEADER, GOOD, f"{address};Jan;;Bakker;Utrecht;statenlid;;"])

    result = read_contacts(path)

    assert [c.email for c in result.contacts] == ["anna.devries@utrecht.example.org", stored]
    assert not any(p.is_error for p in result.problems)  # kept: the address is valid (RFC 6531)
    if warned:
        [problem] = result.problems
        assert (problem.where, problem.row, problem.subject) == (str(path), 3, stored)
        assert "non-ASCII characters before the @" in problem.reason and "SMTPUTF8" in problem.reason
    else:
        assert result.problems == []


# --- streaming: read_rows, and the cached address check -----------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "Anna.DeVries@Utrecht.Example.ORG",
        "o'brien+nieuwsbrief@x.example.org",
        "jan@xn--bcher-kva.example",
        "a" * 70 + "@x.example.org",  # longer than RFC 5321's 64 before the @: not strict here
        "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example.org",  # over 254 in all
        "jan@localhost",
        "jan@-x.example.org",
        "jan@x..example.org",
        "jan@x.example.org.",
        ".jan@x.example.org",
        "jan..jansen@x.example.org",
        "jan@123.example",
        "jan@x.example.invalid",
    ],
)
def test_the_cached_address_check_keeps_the_validators_verdict(tmp_path: Path, address: str) -> None:
    """The plain path caches each domain's verdict; every address must get the same answer,
    in the same words, as a call of validate_email on the whole address."""
    path = write_csv(tmp_path, [HEADER, *(f"{address};Jan;;Bakker;Utrecht;statenlid;;" for _ in range(2))])
    try:
        expected = validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        expected = f"invalid email address: {exc}"

    rows = list(read_rows(path))  # twice: the second answer comes from the cache

    found = [row.contact.email if row.contact else row.problems[0].reason for row in rows]
    assert found == [expected, expected]


def test_rows_stream_one_at_a_time_with_their_problems(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER, GOOD, "", "jan@x.example.org;Jan;;;Utrecht;statenlid;;", GOOD])

    rows = read_rows(path)

    assert next(rows).contact == read_contacts(path).contacts[0]
    bad = next(rows)
    assert bad.contact is None and [str(p) for p in bad.problems] == [
        f"{path}, row 4 [jan@x.example.org]: achternaam is empty"
    ]
    assert next(rows).contact.row == 5  # a duplicate is not the reader's business: the import finds it
    assert next(rows, None) is None


@pytest.mark.parametrize(
    ("content", "names"),
    [
        pytest.param(
            (HEADER + "\r\nanna@x.example.org;Daniëlle;;Vries;Utrecht;statenlid;;\r\n").encode()
            + b";;;;;;;\r\n" * 120_000  # cleared rows: the next one starts past the first megabyte
            + "b@x.example.org;Zoë;;Ömer;Utrecht;statenlid;;\r\n".encode("cp1252"),
            ["DaniÃ«lle", "Zoë"],
            id="a Windows-1252 byte past the first megabyte makes the whole file Windows-1252",
        ),
        pytest.param(
            (HEADER + "\r\nanna@x.example.org;Daniëlle;;Vries;Utrecht;statenlid;;\r\n").encode("utf-16"),
            ["Daniëlle"],
            id="UTF-16 with its BOM",
        ),
        pytest.param(
            (HEADER + "\r\nanna@x.example.org;Danie\u0308lle;;Vries;Utrecht;statenlid;;\r\n").encode(),
            ["Daniëlle"],
            id="decomposed accents are composed (NFC)",
        ),
    ],
)
def test_the_encoding_is_the_whole_files(tmp_path: Path, content: bytes, names: list[str]) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)

    result = read_contacts(path)

    assert result.problems == []
    assert [c.first_name for c in result.contacts] == names
