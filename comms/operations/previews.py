"""An edition's previews for the team: each variant (a selection of its optional blocks) with
sample personal values, as HTML and as the text part.

Variant 0 shows every block at once; then the kind's widest selections (the newsletter: one per
province, with every theme and the AV block) and the copy without any optional block.
"""

from __future__ import annotations

from dataclasses import dataclass

from comms import kinds
from comms.errors import NotFound
from comms.render.personalise import Personaliser
from comms.render.proof import PREVIEW_VALUES
from comms.service import Service
from comms.store.editions import find_edition

EVERY_BLOCK = "alle blokken tegelijk"


@dataclass(frozen=True, slots=True)
class Variant:
    number: int
    label: str
    blocks: frozenset[str] | None  # None: every block


@dataclass(frozen=True, slots=True)
class Preview:
    variant: Variant
    html: str
    text: str


class NoPreview(NotFound):
    """The edition has no rendered content (held before it was rendered), or no such variant."""


def variants(service: Service, key: str) -> list[Variant]:
    """The variants worth looking at, numbered for their preview links; [] without content."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        html, kind = edition.html, kinds.find(edition.kind)
    if not html:
        return []
    every = Personaliser.cut(html, is_html=True).blocks
    found = [Variant(0, EVERY_BLOCK, None)]
    seen = {every}
    for blocks in [*kind.widest_variants(every), frozenset()]:
        if blocks not in seen:
            seen.add(blocks)
            found.append(Variant(len(found), kind.variant_label(blocks), blocks))
    return found


def preview(service: Service, key: str, number: int) -> Preview:
    """Variant `number` of the edition, with sample values (nobody's personal data)."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        html, text = edition.html, edition.text
    chosen = next((v for v in variants(service, key) if v.number == number), None)
    if chosen is None or not html or not text:
        raise NoPreview(f"{key} has no preview {number}")
    return Preview(
        chosen,
        Personaliser.cut(html, is_html=True).fill(PREVIEW_VALUES, chosen.blocks),
        Personaliser.cut(text, is_html=False).fill(PREVIEW_VALUES, chosen.blocks),
    )
