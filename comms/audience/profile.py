"""What the service knows of a recipient that decides the content they get."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.resolve import tags_of
from comms.store.models import Contact, Preference


@dataclass(frozen=True, slots=True)
class Profile:
    province: str | None
    is_av_member: bool
    themes: frozenset[str] | None  # the themes they read about (`themes_read`); None: every theme
    is_kps: bool = False  # the provinciesecretaris gets agenda notices in copy

    @classmethod
    def from_columns(cls, province: str | None, roles: str, themes: str | None) -> Profile:
        """From a contact's columns and `themes_read()`."""
        held = tags_of(roles)
        return cls(province, "av-lid" in held, tags_of(themes or ",") or None, "kps" in held)


def themes_read() -> ColumnElement[str | None]:
    """The themes a contact reads about, stored as tags (None: every theme): their own choice in
    the preference centre, else the interests of their export row until they make one.

    Select it with `.outerjoin(Preference, Preference.email == Contact.email)`.
    """
    return case((Preference.email.is_(None), Contact.themes), else_=Preference.themes)
