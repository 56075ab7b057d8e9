"""Plain-text parts laid out the same way for every kind: lines wrapped, blank lines single,
"-- " before the signature, one final newline.

Lines are wrapped at WIDTH (72) columns, as mail readers expect (RFC 3676 suggests at most 78).
A URL is never broken (it would stop working), so a line holding nothing but a URL, after
its indent, may be longer: that is the only exception, and `is_too_long` is the rule the tests
apply. A wrapped list item ("- ", "* ", "1. ", or an indent) continues under its own text.

The text still holds the personalisation markers (render.personalise) when it is laid out: a
personal link counts as longer than a line, so it always starts a line of its own, and a name
counts as a generous name. An optional block is a paragraph of its own: a blank line before it,
and it owns the blank line after it, so cutting the block from a recipient's copy (or SendGrid
substituting it away) never leaves two blank lines.
"""

from __future__ import annotations

import re

WIDTH = 72  # where lines are wrapped
MAX_WIDTH = 78  # no line is longer, except one that is a single URL
SIGNATURE_SEPARATOR = "-- "  # RFC 3676 §4.3: dash, dash, space, on a line of its own

_MARKER = re.compile(r"@@c\.(\w+)@@")
_BLOCK_MARKER = re.compile(r"(@@b\.[\w:.-]+@@|@@/b@@)")
_LIST_PREFIX = re.compile(r"^(\s*)((?:[-*•]|\d+[.)])\s+)?")
_UNDERLINE = re.compile(r"^(=+|-{3,})$")
_URL = re.compile(r"(https?://|mailto:)\S+|@@c\.\w+_url@@")
# How long a personal value counts while it is a marker (a link counts as longer than a line).
_FIELD_WIDTH = {"first_name": 15, "name": 35, "email": 40}


def width(text: str) -> int:
    """The columns `text` takes in a recipient's copy, with each marker at its value's width."""

    def measured(match: re.Match[str]) -> str:
        return "x" * _FIELD_WIDTH.get(match[1], WIDTH + 1)

    return len(_MARKER.sub(measured, text))


def is_too_long(line: str) -> bool:
    """Longer than MAX_WIDTH, and more than a single URL (a URL cannot be broken)."""
    if len(line) <= MAX_WIDTH:
        return False
    word = line.strip()
    return " " in word or not _URL.search(word)


def wrap_line(line: str, at: int = WIDTH) -> list[str]:
    """One line as several of at most `at` columns, words kept whole; a list item's or an indented
    line's continuation lines start under its text."""
    if width(line) <= at:
        return [line]
    prefix = _LIST_PREFIX.match(line)
    head = prefix[0] if prefix else ""
    hang = " " * len(head)
    lines: list[str] = []
    current, empty = head, True
    for word in line[len(head) :].split():
        if empty:
            current, empty = current + word, False
        elif width(f"{current} {word}") > at:
            lines.append(current)
            current = hang + word
        else:
            current = f"{current} {word}"
    lines.append(current)
    return lines


def wrap_paragraph(text: str, at: int = WIDTH) -> str:
    """A paragraph of running text (its line breaks are spaces) wrapped at `at` columns."""
    return "\n".join(wrap_line(" ".join(text.split()), at))


def tidy_text(text: str) -> str:
    """A text part as it goes out (see the module's docstring); markers are kept."""
    pieces = _BLOCK_MARKER.split(text)
    out: list[str] = []
    after_block = False
    for index, piece in enumerate(pieces):
        if index % 2:  # a marker
            out.append(piece)
            after_block = piece == "@@/b@@"
            continue
        inside = index > 0 and pieces[index - 1] != "@@/b@@"
        tidied = _tidy_lines(piece)
        if inside:
            tidied = tidied.strip("\n")
            tidied = tidied + "\n\n" if tidied.strip() else ""
        elif after_block:
            tidied = tidied.lstrip("\n")
        if not inside and index + 1 < len(pieces) and tidied.strip() and tidied.endswith("\n"):
            tidied = tidied.rstrip("\n") + "\n\n"  # a block is a paragraph of its own
        out.append(tidied)
    whole = "".join(out).lstrip("\n").rstrip()
    return whole + "\n"


def _tidy_lines(text: str) -> str:
    """Lines wrapped, trailing spaces gone, at most one blank line in a row, "--" as "-- ". The
    text after the last line break is the start of a line a marker continues: kept as such."""
    *full, tail = text.split("\n")
    lines: list[str] = []
    blank = False
    previous_width = 0  # of a heading that was wrapped: its underline is cut to fit
    for raw in full:
        line = raw.rstrip()
        if line == SIGNATURE_SEPARATOR.rstrip():
            line = SIGNATURE_SEPARATOR
        if not line.strip():
            if not blank:
                lines.append("")
            blank, previous_width = True, 0
            continue
        blank = False
        if _UNDERLINE.match(line) and previous_width:
            lines.append(line[0] * min(len(line), previous_width))
            previous_width = 0
            continue
        wrapped = wrap_line(line)
        previous_width = max(width(w) for w in wrapped) if len(wrapped) > 1 else 0
        lines.extend(wrapped)
    start = "\n".join(wrap_line(tail.rstrip())) if tail.strip() else ""
    return "".join(line + "\n" for line in lines) + start
