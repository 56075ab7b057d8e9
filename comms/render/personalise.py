"""Per-recipient values go into the compiled output as cheap string joins.

Templates are rendered and compiled once per variant with markers in place of
personal values (`@@c.first_name@@`); each recipient's copy is a join of the
precut parts with their values, escaped for HTML where the part is HTML.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

FIELDS = ("first_name", "name", "email", "unsubscribe_url", "preferences_url")
_MARKER = re.compile(r"@@c\.(\w+)@@")


def marker(field: str) -> str:
    return f"@@c.{field}@@"


class RecipientFields:
    """What templates see as `recipient`: each attribute is its marker."""

    def __getattr__(self, field: str) -> str:
        if field not in FIELDS:
            raise AttributeError(f"recipient has no field {field!r} (known: {', '.join(FIELDS)})")
        return marker(field)


@dataclass(frozen=True, slots=True)
class Personaliser:
    """One compiled body cut at its markers: even indexes literal, odd indexes field names."""

    parts: tuple[str, ...]
    is_html: bool

    @classmethod
    def cut(cls, compiled: str, *, is_html: bool) -> Personaliser:
        parts = tuple(_MARKER.split(compiled))
        unknown = {p for p in parts[1::2] if p not in FIELDS}
        if unknown:
            raise ValueError(f"unknown personalisation fields: {', '.join(sorted(unknown))}")
        return cls(parts, is_html)

    @property
    def literals(self) -> tuple[str, ...]:
        return self.parts[0::2]

    @property
    def fields(self) -> tuple[str, ...]:
        return self.parts[1::2]

    def escaped(self, values: dict[str, str]) -> dict[str, str]:
        if self.is_html:
            return {k: html.escape(v, quote=True) for k, v in values.items()}
        return values

    def fill(self, values: dict[str, str]) -> str:
        values = self.escaped(values)
        pieces = list(self.parts)
        pieces[1::2] = [values[name] for name in self.fields]
        return "".join(pieces)
