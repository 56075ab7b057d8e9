"""The newsletter's variants: one rendering per (province, AV membership)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from comms.compose.newsletter import NewsletterContent
from comms.config import Config
from comms.domain import province_by_name
from comms.render.personalise import RecipientFields
from comms.render.templates import Rendered, Templates

AV_SUFFIX = "|av"


@dataclass(frozen=True, slots=True)
class Variant:
    """What differs between recipients' copies besides their personal values."""

    province: str | None
    is_av_member: bool

    @property
    def key(self) -> str:
        return (self.province or "") + (AV_SUFFIX if self.is_av_member else "")

    @classmethod
    def from_key(cls, key: str) -> Variant:
        province, is_av = key.removesuffix(AV_SUFFIX), key.endswith(AV_SUFFIX)
        return cls(province or None, is_av)

    @property
    def slug(self) -> str:
        province = province_by_name(self.province) if self.province else None
        return (province.slug if province else "landelijk") + ("-av" if self.is_av_member else "")

    @property
    def label(self) -> str:
        who = self.province or "zonder provincie"
        return f"{who}, AV-lid" if self.is_av_member else who


def web_version_url(config: Config, edition_key: str, variant: Variant) -> str:
    # The web version carries no personal data: it is the variant, not the recipient's copy.
    return f"{config.web_base_url}/nieuwsbrief/{edition_key}/{variant.slug}"


def variant_context(
    config: Config, content: NewsletterContent, edition_key: str, subject: str, variant: Variant
) -> dict[str, Any]:
    province_entries = content.province_entries.get(variant.province or "", [])
    return {
        "edition": {
            "key": edition_key,
            "subject": subject,
            "month": content.month.label,
            "intro_html": content.intro_html,
            "sections": [s for s in content.sections if s.entries],
            "events": content.events,
            "av_entries": content.av_entries if variant.is_av_member else [],
            "province": variant.province,
            "province_entries": province_entries,
            "web_url": web_version_url(config, edition_key, variant),
        },
        "sender": config.sender,
        "recipient": RecipientFields(),
    }


def render_variant(
    templates: Templates,
    config: Config,
    content: NewsletterContent,
    edition_key: str,
    subject: str,
    variant: Variant,
) -> Rendered:
    context = variant_context(config, content, edition_key, subject, variant)
    return templates.render(config.newsletter.template, context)
