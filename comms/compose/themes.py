"""Map feed items to the five BAC themes, by category first, then by keyword."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from comms.domain import THEMES, Theme, theme_by_name
from comms.problems import Problem
from comms.tomlfile import Table, TomlFile


@dataclass(frozen=True, slots=True)
class ThemeRule:
    theme: Theme
    categories: frozenset[str]  # lower-cased
    keywords: tuple[re.Pattern[str], ...]

    def category_matches(self, categories: list[str]) -> bool:
        return any(c.lower() in self.categories for c in categories)

    def keyword_hits(self, text: str) -> int:
        return sum(1 for pattern in self.keywords if pattern.search(text))


@dataclass(frozen=True, slots=True)
class ThemeMap:
    rules: tuple[ThemeRule, ...]

    def classify(self, categories: list[str], text: str) -> Theme | None:
        """The theme of an item: a matching category wins, else the most keyword hits."""
        for rule in self.rules:
            if rule.category_matches(categories):
                return rule.theme
        hits = [(rule.keyword_hits(text), rule.theme) for rule in self.rules]
        best, theme = max(hits, key=lambda pair: pair[0], default=(0, None))
        return theme if best > 0 else None


def load_theme_map(path: Path) -> tuple[ThemeMap, list[Problem]]:
    """The rules of every theme table; unknown themes and keys, and values that are not lists of
    text, are reported at their lines (and left out)."""
    file = TomlFile(path)
    root = file.root
    if root is None:
        return ThemeMap(()), file.problems
    rules: list[ThemeRule] = []
    for key in root.data:
        theme = theme_by_name(key)
        if theme is None:
            known = ", ".join(t.id for t in THEMES)
            root.add(f"unknown theme '{key}' (known: {known})", key)
            continue
        table = root.table(key)
        if table is None:
            continue
        _check_keys(table)
        categories, keywords = (_words(table, name) for name in _KEYS)
        rules.append(
            ThemeRule(
                theme=theme,
                # the theme's own name is always a category of it
                categories=frozenset(c.lower() for c in [theme.name, *categories]),
                keywords=tuple(re.compile(rf"\b{re.escape(word)}", re.IGNORECASE) for word in keywords),
            )
        )
    order = {t.id: n for n, t in enumerate(THEMES)}
    rules.sort(key=lambda rule: order[rule.theme.id])
    return ThemeMap(tuple(rules)), file.problems


_KEYS = ("categories", "keywords")


def _check_keys(table: Table) -> None:
    def reason(key: str, guess: str | None) -> str:
        hint = f" (did you mean '{guess}'?)" if guess else f"; known: {', '.join(_KEYS)}"
        return table.label(f"unknown key '{key}'{hint}")

    table.check_keys(_KEYS, reason)


def _words(table: Table, key: str) -> list[str]:
    words = table.get(key, list, [])
    if words is None or not all(isinstance(word, str) and word.strip() for word in words):
        table.add(f'{table.label(key)} must be a list of words in quotes, like ["stikstof"]', key)
        return []
    return words
