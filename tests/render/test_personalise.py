"""Optional blocks and personal values on compiled output."""

from __future__ import annotations

import re

import mjml
import pytest

from comms.render.personalise import BLOCK_END, Personaliser, block_start, marker


def mjml_document(sections: list[tuple[str, bool]]) -> str:
    body = []
    for name, present in sections:
        body.append(f"<mj-raw>{block_start(name)}</mj-raw>")
        if present:
            body.append(f"<mj-section><mj-column><mj-text>Sectie {name}</mj-text></mj-column></mj-section>")
        body.append(f"<mj-raw>{BLOCK_END}</mj-raw>")
    head = "<mj-section><mj-column><mj-text>Kop</mj-text></mj-column></mj-section>"
    return f"<mjml><mj-body>{head}{''.join(body)}</mj-body></mjml>"


@pytest.mark.parametrize("left_out", ["thema:a", "thema:b", "thema:c"])
def test_cutting_a_block_gives_the_html_mjml_compiles_without_it(left_out: str) -> None:
    names = ["thema:a", "thema:b", "thema:c"]
    full = mjml.mjml2html(mjml_document([(n, True) for n in names]), disable_comments=True)
    without = mjml.mjml2html(mjml_document([(n, n != left_out) for n in names]), disable_comments=True)

    cut = Personaliser.cut(full, is_html=True).fill({}, set(names) - {left_out})

    assert cut == Personaliser.cut(without, is_html=True).fill({}, set(names))


def test_blocks_and_fields_are_filled_per_recipient() -> None:
    compiled = f"Beste {marker('first_name')}. {block_start('av')}AV voor {marker('name')}. {BLOCK_END}Einde"
    personaliser = Personaliser.cut(compiled, is_html=True)
    values = {"first_name": "<Anna>", "name": "Anna & Co"}

    assert personaliser.fill(values, {"av"}) == "Beste &lt;Anna&gt;. AV voor Anna &amp; Co. Einde"
    assert personaliser.fill(values, set()) == "Beste &lt;Anna&gt;. Einde"
    assert personaliser.blocks == {"av"}


@pytest.mark.parametrize(
    ("compiled", "reason"),
    [
        (f"{block_start('a')}{block_start('b')}{BLOCK_END}{BLOCK_END}", "block 'b' starts inside block 'a'"),
        (f"{block_start('a')} open", "block 'a' never ends"),
        (f"x {BLOCK_END}", "a block ends that never started"),
        ("@@c.voornaam@@", "unknown personalisation field 'voornaam'"),
    ],
)
def test_malformed_markers_are_refused(compiled: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        Personaliser.cut(compiled, is_html=False)
