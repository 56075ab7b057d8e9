"""The preference centre's rules: which mailing kinds an address gets, and which themes.

Opting out of a kind is a suppression with that kind as scope (reason 'preference centre'),
so the delivery queue honours it without knowing about preferences. Themes live in
`Preference`. Both are keyed by address: a re-import of the contacts never undoes them. Until an address
makes a choice of themes, it reads about the themes of its export row (Contact.themes).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from comms.audience.resolve import tags, tags_of
from comms.domain import THEMES
from comms.store.models import Contact, Preference
from comms.track.sql import insert_once
from comms.track.suppressions import (
    EVERY_KIND,
    PREFERENCE_CENTRE,
    Block,
    blocks,
    normalise_email,
    suppress,
    unsuppress,
)

THEME_IDS: frozenset[str] = frozenset(t.id for t in THEMES)


@dataclass(frozen=True, slots=True)
class PreferenceView:
    """What an address receives now, as the preference centre shows it."""

    email: str
    kinds: tuple[str, ...]  # the mailing kinds offered (those that can reach it), in listing order
    subscribed: frozenset[str]  # of those, the ones it receives
    held: dict[str, Block]  # kind → the permanent suppression a person cannot lift
    chosen_themes: frozenset[str] | None  # None: no choice made yet (an empty choice means all)
    interests: frozenset[str] = frozenset()  # the themes of the contact's export row

    @property
    def themes(self) -> frozenset[str]:
        """The themes it reads about: its own choice, else its export row's; none means every theme.
        The newsletter's copies follow the same rule (audience.profile.themes_read)."""
        own = self.interests if self.chosen_themes is None else self.chosen_themes
        return own or THEME_IDS

    @property
    def every_theme(self) -> bool:
        return self.themes == THEME_IDS

    @property
    def themes_from_export(self) -> bool:
        """The themes shown are those the griffie passed on, not a choice made here."""
        return self.chosen_themes is None and bool(self.interests)

    @property
    def held_everywhere(self) -> Block | None:
        """The bounce or complaint that stops every kind at once, if there is one."""
        return next((b for b in self.held.values() if b.scope == EVERY_KIND), None)

    def receives(self, kind: str) -> bool:
        return kind in self.subscribed

    def may_change(self, kind: str) -> bool:
        return kind not in self.held


def get_preferences(session: Session, email: str, kinds: Collection[str]) -> PreferenceView:
    """What the address receives of `kinds` (the keys of the mailing kinds offered to it) and
    which themes it reads about."""
    address = normalise_email(email)
    rules = blocks(session, address)
    subscribed = frozenset(k for k in kinds if not any(b.covers(k) for b in rules))
    held = {k: b for k in kinds for b in rules if b.covers(k) and b.is_permanent}
    stored = session.scalars(select(Preference).where(Preference.email == address)).first()
    chosen = None if stored is None else tags_of(stored.themes) if stored.themes else THEME_IDS
    interests = session.scalars(select(Contact.themes).where(Contact.email == address)).first()
    known = tags_of(interests or ",") & THEME_IDS
    return PreferenceView(address, tuple(kinds), subscribed, held, chosen, known)


def save_preferences(
    session: Session,
    email: str,
    wanted: Collection[str],
    themes: Collection[str] | None,
    now: datetime,
    kinds: Collection[str],
    every_kind: Collection[str] = (),
) -> PreferenceView:
    """Make the address receive exactly `wanted` of `kinds` (those offered to it; except those
    held by a bounce or complaint, which stay as they are) and read about `themes` (none or all
    five: every theme; None: unchanged). `every_kind`: all the service's kinds, so that a
    personal '*' that is lifted still stops the kinds not offered."""
    unknown = (set(wanted) - set(kinds)) | (set(themes or ()) - THEME_IDS)
    if unknown:
        raise ValueError(f"unknown mailing kinds or themes: {sorted(unknown)}")
    address = normalise_email(email)
    before = get_preferences(session, address, kinds)
    changeable = [k for k in kinds if before.may_change(k)]
    if any(k in wanted for k in changeable) and unsuppress(session, address, EVERY_KIND):
        # A personal '*' (SendGrid's global unsubscribe) would still stop the kinds chosen
        # now; it becomes per-kind suppressions of every kind left out, offered or not.
        for kind in set(every_kind) - set(kinds):
            suppress(session, address, kind, PREFERENCE_CENTRE, now)
    for kind in changeable:
        if kind in wanted:
            unsuppress(session, address, kind)
        else:
            suppress(session, address, kind, PREFERENCE_CENTRE, now)
    if themes is not None:
        _save_themes(session, address, frozenset(themes), now)
    return get_preferences(session, address, kinds)


def _save_themes(session: Session, address: str, themes: frozenset[str], now: datetime) -> None:
    stored = None if themes in (frozenset(), THEME_IDS) else tags(themes)
    values = {"email": address, "themes": stored, "updated_at": now}
    if insert_once(session, Preference, values, ["email"]) is None:
        session.execute(
            update(Preference)
            .where(Preference.email == address, Preference.themes.is_distinct_from(stored))
            .values(themes=stored, updated_at=now)
        )
