"""Text from outside made safe to show: invisible format characters removed.

Bidi controls (U+202E turns "gpj.exe" around) and other invisible format characters
(zero-width spaces, word joiners, a stray byte-order mark) change what a reader sees
without being seen themselves. Feed titles, links and contact names lose them before they
reach a mail's HTML, its text or its To header; this is the one place that decides which.
"""

from __future__ import annotations

import unicodedata

ZWJ = "\u200d"  # joins emoji sequences (👩‍💻); kept there, removed everywhere else


def strip_invisible(text: str) -> str:
    """The text without Unicode format characters (category Cf: bidi controls U+202A–U+202E,
    U+2066–U+2069, U+200E/F, U+061C; U+200B, U+2060, U+FEFF, soft hyphens …), except a
    zero-width joiner between two emoji."""
    if text.isascii():
        return text
    kept: list[str] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) != "Cf" or (
            char == ZWJ and _is_emoji(text[index - 1 : index]) and _is_emoji(text[index + 1 : index + 2])
        ):
            kept.append(char)
    return "".join(kept)


def _is_emoji(char: str) -> bool:
    # Pictographs are "So"; U+FE0F (emoji presentation) before a joiner is "Mn".
    return bool(char) and (unicodedata.category(char) == "So" or char == "\ufe0f")
