"""The text-part layout shared by every kind: wrapping that keeps URLs and list indents, single
blank lines also after an optional block is cut, "-- " before the signature, a final newline."""

from __future__ import annotations

import pytest

from comms.render.personalise import Personaliser
from comms.render.wrap import is_too_long, tidy_text, wrap_line

URL = "https://www.ipo.example.org/vergaderingen/bac-fob/2026-12-02/stukken/concept-begroting-ipo-2027.pdf"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Kort genoeg.", ["Kort genoeg."]),
        (
            "Dit overzicht is bedoeld om door te sturen aan de Statenleden. Het bevat geen links.",
            [
                "Dit overzicht is bedoeld om door te sturen aan de Statenleden. Het bevat",
                "geen links.",
            ],
        ),
        # A list item continues under its text; the URL is never broken, it gets a line of its own.
        (
            f"   - Conceptbegroting IPO 2027: {URL}",
            ["   - Conceptbegroting IPO 2027:", f"     {URL}"],
        ),
        (
            "2. Provincies en Rijk maken afspraken over de uitvoering van het gebiedsprogramma",
            ["2. Provincies en Rijk maken afspraken over de uitvoering van het", "   gebiedsprogramma"],
        ),
        # A personal link is a marker while the text is laid out: it counts as longer than a line.
        (
            "Afmelden voor agendaberichten: @@c.unsubscribe_url@@",
            ["Afmelden voor agendaberichten:", "@@c.unsubscribe_url@@"],
        ),
        ("Beste @@c.first_name@@,", ["Beste @@c.first_name@@,"]),
    ],
)
def test_a_long_line_is_wrapped_at_72_columns_keeping_urls_and_indents(
    line: str, expected: list[str]
) -> None:
    assert wrap_line(line) == expected


@pytest.mark.parametrize(
    ("line", "too_long"),
    [
        ("x" * 78, False),
        ("x" * 79, True),
        (f"     {URL}", False),  # a lone URL may be longer: breaking it would break the link
        (f"Zie {URL}", True),
    ],
)
def test_only_a_lone_url_may_pass_78_columns(line: str, too_long: bool) -> None:
    assert is_too_long(line) is too_long


TEMPLATE_OUTPUT = """Titel



Beste @@c.first_name@@,

@@b.in-kopie@@U ontvangt dit bericht in kopie.


@@/b@@
Tekst.
@@b.thema:a@@THEMA A
Iets.

@@/b@@
@@b.thema:b@@THEMA B
Nog iets.

@@/b@@
--
Agendadesk IPO


"""


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (
            {"in-kopie", "thema:a", "thema:b"},
            "Titel\n\nBeste Anna,\n\nU ontvangt dit bericht in kopie.\n\nTekst.\n\nTHEMA A\nIets.\n\n"
            "THEMA B\nNog iets.\n\n-- \nAgendadesk IPO\n",
        ),
        (set(), "Titel\n\nBeste Anna,\n\nTekst.\n\n-- \nAgendadesk IPO\n"),
        ({"thema:b"}, "Titel\n\nBeste Anna,\n\nTekst.\n\nTHEMA B\nNog iets.\n\n-- \nAgendadesk IPO\n"),
    ],
)
def test_a_cut_block_leaves_no_run_of_blank_lines(blocks: set[str], expected: str) -> None:
    tidied = Personaliser.cut(tidy_text(TEMPLATE_OUTPUT), is_html=False)
    assert tidied.fill({"first_name": "Anna"}, blocks) == expected


def test_a_heading_that_is_wrapped_gets_an_underline_that_fits() -> None:
    heading = "Gewijzigde agenda: BAC Landelijk Gebied, donderdag 1 april 2027 – voor GS Utrecht"
    text = tidy_text(f"{heading}\n{'=' * len(heading)}\n\nTekst.\n")
    assert text.split("\n")[:3] == [
        "Gewijzigde agenda: BAC Landelijk Gebied, donderdag 1 april 2027 – voor",
        "GS Utrecht",
        "=" * 70,
    ]
