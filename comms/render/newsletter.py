"""The newsletter rendered once per edition, with optional blocks per recipient.

Blocks: `av` (the AV section), `provincie:<slug>` (a province's news) and
`thema:<id>` (a BAC theme's section). Everyone gets the introduction, the
general news ("Overig nieuws") and the agenda; a recipient gets the AV block if
they sit in the AV, their own province's block, and the blocks of the themes they
read about (audience.profile.themes_read: their choice in the preference centre, else
the interests of their export row; all themes when that is none).
"""

from __future__ import annotations

from typing import Any

from comms.audience.profile import Profile
from comms.compose.newsletter import NewsletterContent
from comms.config import Config
from comms.domain import PROVINCES, THEMES, province_by_name
from comms.render.personalise import RecipientFields

AV_BLOCK = "av"
ALL_THEMES = frozenset(t.id for t in THEMES)


def province_block(province: str) -> str:
    found = province_by_name(province)
    return f"provincie:{found.slug if found else province.lower()}"


def theme_block(theme_id: str) -> str:
    return f"thema:{theme_id}"


def blocks_for(profile: Profile) -> frozenset[str]:
    """The optional blocks a recipient gets; none of it is shown to anyone else."""
    chosen = profile.themes if profile.themes else ALL_THEMES
    blocks = {theme_block(t) for t in chosen}
    if profile.province:
        blocks.add(province_block(profile.province))
    if profile.is_av_member:
        blocks.add(AV_BLOCK)
    return frozenset(blocks)


def label(blocks: frozenset[str]) -> str:
    """'Utrecht, AV-lid, thema's: Landelijk Gebied' for an outbox index or a log line."""
    parts = [p.name for p in PROVINCES if province_block(p.name) in blocks]
    if AV_BLOCK in blocks:
        parts.append("AV-lid")
    themes = [t.name for t in THEMES if theme_block(t.id) in blocks]
    parts.append(
        "alle thema's" if len(themes) == len(THEMES) else "thema's: " + (", ".join(themes) or "geen")
    )
    return ", ".join(parts)


def web_version_url(config: Config, edition_key: str) -> str:
    # One public page per edition: no province, AV or personal data in it.
    return f"{config.web_base_url}/nieuwsbrief/{edition_key}"


class BlockNames:
    """`blocks.av`, `blocks.province(name)`, `blocks.theme(id)` in templates: the names that
    the `block_start(...)` / `block_end` markers (Templates' globals) take."""

    av = AV_BLOCK
    province = staticmethod(province_block)
    theme = staticmethod(theme_block)


def context(config: Config, content: NewsletterContent, edition_key: str, subject: str) -> dict[str, Any]:
    return {
        "edition": {
            "key": edition_key,
            "subject": subject,
            "month": content.month.label,
            "intro_html": content.intro_html,
            "sections": [s for s in content.sections if s.entries],
            "events": content.events,
            "av_entries": content.av_entries,
            "province_entries": dict(sorted(content.province_entries.items())),
            "web_url": web_version_url(config, edition_key),
        },
        "recipient": RecipientFields(),
        "blocks": BlockNames(),
    }
