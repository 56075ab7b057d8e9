"""Map feed items to the five BAC themes, by category first, then by keyword."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from comms.domain import THEMES, Theme, theme_by_name
from comms.problems import Problem
from comms.tomlfile import read_toml


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
    where = str(path)
    _, raw, problems = read_toml(path)
    if raw is None:
        return ThemeMap(()), problems
    rules: list[ThemeRule] = []
    for key, table in raw.items():
        theme = theme_by_name(key)
        if theme is None:
            known = ", ".join(t.id for t in THEMES)
            problems.append(Problem(where, f"unknown theme (known: {known})", subject=key))
            continue
        unknown = set(table) - {"categories", "keywords"}
        if unknown:
            problems.append(Problem(where, f"unknown keys {sorted(unknown)}", subject=key))
        rules.append(
            ThemeRule(
                theme=theme,
                # the theme's own name is always a category of it
                categories=frozenset(c.lower() for c in [theme.name, *table.get("categories", [])]),
                keywords=tuple(
                    re.compile(rf"\b{re.escape(word)}", re.IGNORECASE) for word in table.get("keywords", [])
                ),
            )
        )
    order = {t.id: n for n, t in enumerate(THEMES)}
    rules.sort(key=lambda rule: order[rule.theme.id])
    return ThemeMap(tuple(rules)), problems
