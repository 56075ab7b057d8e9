"""Per-recipient copies are cheap string work on output compiled once per edition.

Templates are rendered and compiled once, with markers where personal values go
(`@@c.first_name@@`) and around optional blocks (`@@b.thema:landelijk-gebied@@` …
`@@/b@@`): the AV section, each province's section, each theme's section. A
recipient's copy keeps the blocks that apply to them and fills in their values,
escaped for HTML where the body is HTML. mj-raw around each block makes every
block a self-contained piece of the compiled HTML, so cutting one out gives the
same HTML as compiling without it (tested).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

FIELDS = ("first_name", "name", "email", "unsubscribe_url", "preferences_url", "survey_url")
BLOCK_END = "@@/b@@"
_TOKEN = re.compile(r"@@(c\.\w+|b\.[\w:.-]+|/b)@@")


def marker(field: str) -> str:
    return f"@@c.{field}@@"


def block_start(name: str) -> str:
    return f"@@b.{name}@@"


class RecipientFields:
    """What templates see as `recipient`: each attribute is its marker."""

    def __getattr__(self, field: str) -> str:
        if field not in FIELDS:
            raise AttributeError(field)
        return marker(field)


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Block:
    name: str
    parts: tuple[str | Field, ...]  # no nested blocks


@dataclass(frozen=True)
class Personaliser:
    """Compiled output cut at its markers: literal text, fields, and optional blocks."""

    pieces: tuple[str | Field | Block, ...]
    is_html: bool

    @classmethod
    def cut(cls, compiled: str, *, is_html: bool) -> Personaliser:
        pieces: list[str | Field | Block] = []
        block: tuple[str, list[str | Field]] | None = None
        position = 0
        for match in _TOKEN.finditer(compiled):
            target: list = block[1] if block else pieces
            target.append(compiled[position : match.start()])
            token = match[1]
            if token.startswith("c."):
                field = token[2:]
                if field not in FIELDS:
                    raise ValueError(f"unknown personalisation field {field!r} (known: {', '.join(FIELDS)})")
                target.append(Field(field))
            elif token.startswith("b."):
                if block:
                    raise ValueError(f"block {token[2:]!r} starts inside block {block[0]!r}")
                block = (token[2:], [])
            else:
                if not block:
                    raise ValueError("a block ends that never started")
                pieces.append(Block(block[0], tuple(block[1])))
                block = None
            position = match.end()
        if block:
            raise ValueError(f"block {block[0]!r} never ends")
        pieces.append(compiled[position:])
        return cls(tuple(pieces), is_html)

    @cached_property
    def blocks(self) -> frozenset[str]:
        return frozenset(p.name for p in self.pieces if isinstance(p, Block))

    def select(self, include: Iterable[str]) -> Selected:
        """The copy for one selection of blocks: literals alternating with field markers."""
        keep = frozenset(include)
        flat: list[str | Field] = []
        for piece in self.pieces:
            if isinstance(piece, Block):
                if piece.name in keep:
                    flat.extend(piece.parts)
            else:
                flat.append(piece)
        return Selected.from_flat(flat, self.is_html)

    def block(self, name: str) -> Selected:
        found = next(p for p in self.pieces if isinstance(p, Block) and p.name == name)
        return Selected.from_flat(list(found.parts), self.is_html)

    def fill(self, values: dict[str, str], include: Iterable[str] | None = None) -> str:
        return self.select(self.blocks if include is None else include).fill(values)


@dataclass(frozen=True, slots=True)
class Selected:
    """One selection's text, as literals and the fields between them."""

    literals: tuple[str, ...]  # one more than fields
    fields: tuple[str, ...]
    is_html: bool

    @classmethod
    def from_flat(cls, flat: list[str | Field], is_html: bool) -> Selected:
        literals: list[str] = []
        fields: list[str] = []
        current: list[str] = []
        for part in flat:
            if isinstance(part, Field):
                literals.append("".join(current))
                fields.append(part.name)
                current = []
            else:
                current.append(part)
        literals.append("".join(current))
        return cls(tuple(literals), tuple(fields), is_html)

    def escaped(self, values: dict[str, str]) -> dict[str, str]:
        if self.is_html:
            return {k: html.escape(v, quote=True) for k, v in values.items()}
        return values

    def fill(self, values: dict[str, str]) -> str:
        escaped = self.escaped(values)
        pieces = [self.literals[0]]
        for field, literal in zip(self.fields, self.literals[1:], strict=True):
            pieces += (escaped[field], literal)
        return "".join(pieces)
