"""Write the fictitious sample audience to audiences/contacts/.

One export per province, shaped as a griffie sends it: every Statenlid (the
seat count after the 2023 elections), two of them AV members, the gedeputeerden,
the CdK, the provinciesecretaris and the griffie; plus ipo.csv with IPO staff.
The files come in the Dutch Excel flavours the reader must cope with: most are
`;`-separated UTF-8 with a BOM, Fryslân and Limburg are Windows-1252 without a
BOM, Utrecht is comma-separated plain UTF-8.

Every name is invented and every address is on an example.org subdomain.
Deterministic (fixed seed), standard library only:

    python scripts/make_sample_audience.py
"""

from __future__ import annotations

import csv
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from comms.domain import PROVINCES, THEMES, Province

SEED = 20230315  # the day of the 2023 Provinciale Statenverkiezingen
OUT = Path(__file__).resolve().parent.parent / "audiences" / "contacts"
HEADER = [
    "e-mailadres",
    "voornaam",
    "tussenvoegsel",
    "achternaam",
    "provincie",
    "rollen",
    "partij",
    "thema's",
]

# (encoding, delimiter, separator inside a cell) per province; the rest gets DEFAULT_FLAVOUR.
DEFAULT_FLAVOUR = ("utf-8-sig", ";", ", ")
FLAVOURS = {
    "fryslan": ("cp1252", ";", ", "),
    "limburg": ("cp1252", ";", ", "),
    "utrecht": ("utf-8", ",", ", "),  # so cells with several roles come out quoted
    "noord-holland": ("utf-8-sig", ";", "|"),
}

FIRST_NAMES = (
    "Anna", "Emma", "Sanne", "Lotte", "Femke", "Marieke", "Ingrid", "Esther", "Linda",
    "Monique", "Petra", "Annemarie", "Karin", "Wendy", "Judith", "Mirjam", "Ilse", "Marloes",
    "Lisa", "Fleur", "Eva", "Anouk", "Jan", "Pieter", "Henk", "Kees", "Joost", "Bas", "Thijs",
    "Ruud", "Marco", "Erik", "Willem", "Gerard", "Frank", "Mark", "Jeroen", "Maarten", "Arjen",
    "Sander", "Wouter", "Hans", "Rob", "Dirk", "Bram", "Tim", "Daan",
)  # fmt: skip
# Less common in the Staten, and the ones with diacritics an encoding can break.
WIDER_FIRST_NAMES = (
    "Renée", "Mariëlle", "Daniëlle", "Zoë", "Chloë", "Inès", "Nadia", "Fatima", "Samira",
    "Gülsen", "Mohamed", "Ömer", "Youssef", "André", "José", "Noël", "Stéphanie",
)  # fmt: skip
FRISIAN_FIRST_NAMES = (
    "Sjoukje", "Tjitske", "Gerbrich", "Aukje", "Baukje", "Froukje", "Wytske", "Sytske",
    "Hylke", "Wietse", "Jelle", "Sietse", "Auke", "Durk", "Bauke", "Tjeerd", "Sjoerd", "Gerrit",
)  # fmt: skip
LIMBURG_FIRST_NAMES = (
    "Sjef", "Huub", "Jo", "Harrie", "Ger", "Lei", "Twan", "Sjaak", "Bèr", "Léon", "Mia",
    "Jeanne", "Mieke", "Loes", "Truus", "Maud", "Noor", "Lieke",
)  # fmt: skip

# (tussenvoegsel, achternaam)
SURNAMES = (
    ("de", "Jong"), ("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"),
    ("", "Bakker"), ("", "Visser"), ("", "Smit"), ("", "Meijer"), ("de", "Boer"),
    ("", "Mulder"), ("de", "Groot"), ("", "Bos"), ("", "Vos"), ("", "Peters"),
    ("", "Hendriks"), ("van", "Leeuwen"), ("", "Dekker"), ("", "Brouwer"), ("de", "Wit"),
    ("", "Smits"), ("de", "Graaf"), ("van der", "Meer"), ("van der", "Linden"), ("", "Kok"),
    ("", "Jacobs"), ("de", "Haan"), ("", "Vermeulen"), ("van den", "Heuvel"),
    ("van der", "Veen"), ("van den", "Broek"), ("de", "Bruijn"), ("van der", "Heijden"),
    ("", "Schouten"), ("van", "Beek"), ("", "Willems"), ("van", "Vliet"), ("", "Maas"),
    ("", "Verhoeven"), ("", "Koster"), ("van", "Dam"), ("van der", "Wal"), ("", "Prins"),
    ("", "Blom"), ("", "Huisman"), ("de", "Jonge"), ("", "Kuipers"), ("", "Kramer"),
    ("van den", "Brink"), ("", "Scholten"), ("van", "Wijk"), ("", "Martens"), ("", "Vink"),
    ("de", "Ridder"), ("van", "Loon"), ("", "Timmermans"), ("ter", "Horst"), ("te", "Riele"),
    ("in 't", "Veld"), ("van 't", "Hof"), ("", "Nijland"), ("", "Wolters"), ("", "Oosterhuis"),
)  # fmt: skip
WIDER_SURNAMES = (
    ("", "Yilmaz"), ("", "Öztürk"), ("", "Çelik"), ("", "El Amrani"), ("", "Bouzid"),
    ("", "Ramdin"), ("", "Brühl"), ("", "Lefèvre"),
)  # fmt: skip
FRISIAN_SURNAMES = (
    ("", "Hoekstra"), ("", "Dijkstra"), ("", "Zijlstra"), ("", "Wijbenga"), ("", "Terpstra"),
    ("", "Sikkema"), ("", "Bergsma"), ("", "Hiemstra"), ("", "Bosma"), ("", "Kingma"),
    ("", "Feenstra"), ("van der", "Meulen"), ("", "Hettinga"), ("", "Wiersma"), ("", "Jongsma"),
    ("de", "Boer"), ("", "Visser"), ("", "Postma"), ("", "Veenstra"), ("", "Tjeerdsma"),
)  # fmt: skip
LIMBURG_SURNAMES = (
    ("", "Janssen"), ("", "Houben"), ("", "Hermans"), ("", "Frissen"), ("", "Smeets"),
    ("", "Wolfs"), ("", "Vrancken"), ("", "Lemmens"), ("", "Beckers"), ("", "Ubachs"),
    ("", "Custers"), ("", "Vroemen"), ("", "Pluijmen"), ("", "Schreurs"), ("", "Dassen"),
    ("", "Bemelmans"), ("", "Geurts"), ("", "Crombach"), ("", "Cremers"), ("", "Lardinois"),
)  # fmt: skip

# National parties with weights after the 2023 Statenverkiezingen (seats won, roughly).
PARTIES = {
    "BBB": 137, "VVD": 62, "GroenLinks": 58, "PvdA": 46, "CDA": 38, "D66": 35, "PVV": 33,
    "Partij voor de Dieren": 25, "JA21": 25, "SP": 22, "ChristenUnie": 20, "SGP": 12,
    "Volt": 11, "FVD": 9, "50PLUS": 6,
}  # fmt: skip
CDK_PARTIES = ("VVD", "CDA", "D66", "PvdA", "GroenLinks")
REGIONAL_PARTIES = {
    "fryslan": "FNP",
    "groningen": "Groninger Belang",
    "limburg": "Lokaal Limburg",
    "noord-brabant": "Lokaal Brabant",
}

# People who must be in the sample: the reader has to get their names right.
FIXED = {
    "fryslan": [("Sjoukje", "", "Hoekstra-Dijkstra")],
    "limburg": [("Ingrid", "", "Bakker-Ömer")],
}


@dataclass
class Person:
    first: str
    infix: str
    last: str
    email: str = ""
    roles: list[str] = field(default_factory=list)
    party: str = ""
    themes: list[str] = field(default_factory=list)  # Theme.name, as a griffie writes it


class Names:
    """Invents names for one province, regional where that is realistic."""

    def __init__(self, rng: random.Random, province: Province):
        self.rng = rng
        self.first = list(FIRST_NAMES)
        self.surnames = list(SURNAMES)
        if province.slug == "fryslan":
            self.first += FRISIAN_FIRST_NAMES * 2
            self.surnames += FRISIAN_SURNAMES * 3
        if province.slug == "limburg":
            self.first += LIMBURG_FIRST_NAMES * 2
            self.surnames += LIMBURG_SURNAMES * 3
        self.fixed = list(FIXED.get(province.slug, []))

    def person(self) -> Person:
        if self.fixed:
            return Person(*self.fixed.pop(0))
        rng = self.rng
        first = rng.choice(WIDER_FIRST_NAMES if rng.random() < 0.12 else self.first)
        infix, last = rng.choice(WIDER_SURNAMES if rng.random() < 0.06 else self.surnames)
        if not infix and rng.random() < 0.05:  # a married name: Visser-Kok
            last = f"{last}-{rng.choice([s for i, s in self.surnames if not i])}"
        return Person(first, infix, last)


def slug(text: str) -> str:
    bare = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in bare.lower() if c.isalnum() or c == "-")


def assign_email(person: Person, domain: str, taken: set[str]) -> None:
    base = f"{slug(person.first)}.{slug(person.infix + person.last)}"
    email, number = f"{base}@{domain}", 1
    while email in taken:
        number += 1
        email = f"{base}{number}@{domain}"
    taken.add(email)
    person.email = email


def party(rng: random.Random, province: Province) -> str:
    parties = dict(PARTIES)
    if regional := REGIONAL_PARTIES.get(province.slug):
        parties[regional] = 40
    return rng.choices(list(parties), weights=list(parties.values()))[0]


def interests(rng: random.Random, low: int = 1, high: int = 3) -> list[str]:
    chosen = rng.sample(THEMES, rng.randint(low, high))
    return [t.name for t in THEMES if t in chosen]


def province_people(rng: random.Random, province: Province) -> list[Person]:
    names = Names(rng, province)
    staten = [names.person() for _ in range(province.seats)]
    for person in staten:
        person.roles = ["statenlid"]
        person.party = party(rng, province)
        person.themes = interests(rng)
    for member in rng.sample(staten, 2):
        member.roles.append("av-lid")

    gs = [names.person() for _ in range(rng.randint(5, 7))]
    for index, person in enumerate(gs):
        person.roles = ["gedeputeerde"]
        person.party = party(rng, province)
        person.themes = interests(rng, 1, 2)
        if index == 0:
            person.roles.append("ipo-bestuurslid")
        if index < len(THEMES):  # one BAC member per theme, with that theme as interest
            person.roles.append("bac-lid")
            person.themes = [THEMES[index].name]

    roles = ["cdk", "kps", "griffier"] + ["griffie"] * rng.randint(1, 2)
    officials = [names.person() for _ in roles]
    for person, role in zip(officials, roles, strict=True):
        person.roles = [role]
    officials[0].party = rng.choice(CDK_PARTIES)

    people = staten + gs + officials
    taken: set[str] = set()
    for person in people:
        assign_email(person, f"{province.slug}.example.org", taken)
    # A griffie exports its list sorted by achternaam, ignoring the tussenvoegsel.
    return sorted(people, key=lambda p: (slug(p.last), slug(p.first)))


def ipo_staff(rng: random.Random) -> list[Person]:
    names = Names(rng, PROVINCES[0])
    people = [names.person() for _ in range(8)]
    taken: set[str] = set()
    for person in people:
        person.roles = ["ipo-staff"]
        person.themes = interests(rng, 1, 2)
        assign_email(person, "ipo.example.org", taken)
    return people


def write(path: Path, people: list[Person], province: str, flavour: tuple[str, str, str]) -> None:
    encoding, delimiter, separator = flavour
    with path.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(HEADER)
        for p in people:
            roles, themes = separator.join(p.roles), separator.join(p.themes)
            writer.writerow([p.email, p.first, p.infix, p.last, province, roles, p.party, themes])


def main() -> None:
    rng = random.Random(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    for province in PROVINCES:
        flavour = FLAVOURS.get(province.slug, DEFAULT_FLAVOUR)
        people = province_people(rng, province)
        write(OUT / f"{province.slug}.csv", people, province.name, flavour)
    write(OUT / "ipo.csv", ipo_staff(rng), "", DEFAULT_FLAVOUR)
    print(f"wrote {len(PROVINCES) + 1} files to {OUT}")


if __name__ == "__main__":
    main()
