"""Facts of the Dutch provincial domain that the whole service shares."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Province:
    name: str
    slug: str
    seats: int  # Statenleden after the 2023 elections


PROVINCES: tuple[Province, ...] = (
    Province("Groningen", "groningen", 43),
    Province("Fryslân", "fryslan", 43),
    Province("Drenthe", "drenthe", 43),
    Province("Overijssel", "overijssel", 47),
    Province("Flevoland", "flevoland", 41),
    Province("Gelderland", "gelderland", 55),
    Province("Utrecht", "utrecht", 49),
    Province("Noord-Holland", "noord-holland", 55),
    Province("Zuid-Holland", "zuid-holland", 55),
    Province("Zeeland", "zeeland", 39),
    Province("Noord-Brabant", "noord-brabant", 55),
    Province("Limburg", "limburg", 47),
)

ROLES: dict[str, str] = {
    "statenlid": "Statenlid",
    "av-lid": "Lid Algemene Vergadering",
    "gedeputeerde": "Gedeputeerde",
    "ipo-bestuurslid": "Lid IPO-bestuur",
    "bac-lid": "Lid BAC",
    "cdk": "Commissaris van de Koning",
    "kps": "Provinciesecretaris",
    "griffier": "Griffier",
    "griffie": "Griffie-contactpersoon",
    "ipo-staff": "Medewerker IPO",
}

# Spellings that griffie exports use for the same province.
_PROVINCE_ALIASES = {"friesland": "fryslan", "brabant": "noord-brabant"}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "-".join(bare.lower().replace("_", " ").split())


def province_by_name(text: str) -> Province | None:
    """Find a province however it is written: 'Fryslân', 'friesland', 'NOORD HOLLAND'."""
    slug = _fold(text)
    slug = _PROVINCE_ALIASES.get(slug, slug)
    return next((p for p in PROVINCES if p.slug == slug), None)


def normalise_role(text: str) -> str | None:
    key = _fold(text)
    aliases = {
        "statenleden": "statenlid",
        "av": "av-lid",
        "gs": "gedeputeerde",
        "gs-lid": "gedeputeerde",
        "provinciesecretaris": "kps",
        "commissaris-van-de-koning": "cdk",
        "griffie-contact": "griffie",
        "griffiecontact": "griffie",
    }
    key = aliases.get(key, key)
    return key if key in ROLES else None


@dataclass(frozen=True, slots=True)
class Theme:
    """One of the five BAC themes of the IPO's committee structure since 2023."""

    id: str
    name: str


THEMES: tuple[Theme, ...] = (
    Theme("wonen-bereikbaarheid", "Wonen & Bereikbaarheid"),
    Theme("landelijk-gebied", "Landelijk Gebied"),
    Theme("klimaat-leefomgeving", "Klimaat & Leefomgeving"),
    Theme("ondernemen-cultuur", "Ondernemen & Cultuur"),
    Theme("financien-openbaar-bestuur", "Financiën & Openbaar Bestuur"),
)


def theme_by_name(text: str) -> Theme | None:
    """Find a theme by id or name: 'landelijk-gebied', 'Landelijk Gebied', 'financien'."""
    key = _fold(text.replace("&", " "))
    return next(
        (t for t in THEMES if key in (t.id, _fold(t.name.replace("&", " "))) or t.id.startswith(key + "-")),
        None,
    )


@dataclass(frozen=True, slots=True)
class Body:
    """An IPO body whose agendas go to every province's GS: the IPO-bestuur, a BAC, the AV."""

    id: str
    name: str


BODIES: tuple[Body, ...] = (
    Body("ipo-bestuur", "IPO-bestuur"),
    *(Body(f"bac-{t.id}", f"BAC {t.name}") for t in THEMES),
    Body("av", "Algemene Vergadering"),
)
# A contact's seat in a body: "lid" (member) or "plaatsvervanger" (substitute).
SEATS = ("lid", "plaatsvervanger")


def body_by_name(text: str) -> Body | None:
    """Find a body however it is written: 'bac-landelijk-gebied', 'BAC Landelijk Gebied', 'AV'."""
    key = _fold(text.replace("&", " "))
    aliases = {"algemene-vergadering": "av", "ipo-bestuur": "ipo-bestuur", "bestuur": "ipo-bestuur"}
    key = aliases.get(key, key)
    return next(
        (b for b in BODIES if key in (b.id, _fold(b.name.replace("&", " "))) or b.id == f"bac-{key}"),
        None,
    )
