"""What the service knows of a recipient that decides the content they get."""

from __future__ import annotations

from dataclasses import dataclass

from comms.audience.resolve import tags_of


@dataclass(frozen=True, slots=True)
class Profile:
    province: str | None
    is_av_member: bool
    themes: frozenset[str] | None  # chosen in the preference centre; None: no choice made
    is_kps: bool = False  # the provinciesecretaris gets agenda notices in copy

    @classmethod
    def from_columns(cls, province: str | None, roles: str, chosen_themes: str | None) -> Profile:
        themes = tags_of(chosen_themes) if chosen_themes is not None else None
        held = tags_of(roles)
        return cls(province, "av-lid" in held, themes, "kps" in held)
