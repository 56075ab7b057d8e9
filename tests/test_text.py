"""Invisible format characters: the one rule for titles, links and names."""

from __future__ import annotations

import pytest

from comms.text import strip_invisible


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gewoon nieuws", "Gewoon nieuws"),
        ("\u202aa\u202bb\u202cc\u202dd\u202ee", "abcde"),  # embeddings, overrides, pop
        ("\u2066a\u2067b\u2068c\u2069", "abc"),  # isolates
        ("\u200ea\u200fb\u061cc", "abc"),  # LRM, RLM, ALM
        ("a\u200bb\u2060c\ufeffd\u00ade", "abcde"),  # zero-width space, word joiner, BOM, soft hyphen
        ("a\u200db", "ab"),  # a joiner between letters joins nothing a Dutch reader needs
        ("\U0001f469\u200d\U0001f4bb", "\U0001f469\u200d\U0001f4bb"),  # woman technologist: kept
        ("\u2764\ufe0f\u200d\U0001f525", "\u2764\ufe0f\u200d\U0001f525"),  # heart on fire: kept
        ("\u200d\U0001f4bb", "\U0001f4bb"),  # a joiner with nothing before it
        ("Fryslân – café “De Boei”", "Fryslân – café “De Boei”"),
    ],
    ids=[
        "plain",
        "bidi embeddings and overrides",
        "bidi isolates",
        "marks",
        "zero-width and other format characters",
        "joiner between letters",
        "joiner inside an emoji",
        "joiner after a variation selector",
        "joiner at the start",
        "accents and punctuation stay",
    ],
)
def test_strip_invisible(text: str, expected: str) -> None:
    assert strip_invisible(text) == expected
