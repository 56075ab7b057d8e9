"""The monthly newsletter for the Statenleden: the month's items from the feeds, by theme."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from comms.audience.profile import Profile
from comms.audience.resolve import segment_clause
from comms.compose.newsletter import (
    Entry,
    Event,
    Month,
    NewsletterContent,
    Section,
    compose_newsletter,
    introduction_of,
)
from comms.config import Config
from comms.dates import local, utcnow
from comms.domain import PROVINCES, THEMES
from comms.dutch import DutchName
from comms.kinds.base import (
    BuildOutcome,
    BuildRequest,
    ListIdentity,
    PeriodicKind,
    check_rebuildable,
    note_build,
)
from comms.render.newsletter import blocks_for, context, label
from comms.service import Service
from comms.store.editions import audience_size, edition_or_none
from comms.store.models import Edition, EditionStatus, Item


class NewsletterKind(PeriodicKind):
    key = "newsletter"
    label = "Maandelijkse nieuwsbrief voor Statenleden"
    name = DutchName("de", "maandelijkse nieuwsbrief voor Statenleden")
    template = "newsletter"
    listing_order = 10
    period_format = "%Y-%m"  # one edition a month
    has_web_version = True
    by_theme = True
    edits_introduction = True

    def list_identity(self, config: Config) -> ListIdentity:
        return ListIdentity(config.newsletter.list_name, config.newsletter.list_id)

    def default_audience(self, config: Config) -> str:
        return config.newsletter.audience

    def default_template(self, config: Config) -> str:
        return config.newsletter.template

    def blocks(self, profile: Profile) -> frozenset[str]:
        return blocks_for(profile)

    def public_blocks(self) -> frozenset[str]:
        return blocks_for(Profile(None, False, None))

    def variant_label(self, blocks: frozenset[str]) -> str:
        return label(blocks)

    def widest_variants(self, blocks: frozenset[str]) -> list[frozenset[str]]:
        # A recipient gets one province's block at most; every theme and the AV at most.
        provinces = sorted(b for b in blocks if b.startswith("provincie:"))
        common = blocks.difference(provinces)
        return [common | {province} for province in provinces] or [common]

    def check_period(self, period: str) -> None:
        Month.parse(period)

    def month(self, request: BuildRequest) -> Month:
        """The month asked for, else the month of the planned send, else this month."""
        if request.period:
            return Month.parse(request.period)
        return Month.of(local(request.send_at or request.now))

    def edition_key(self, request: BuildRequest) -> str:
        return self.month(request).edition_key

    def rebuild_request(self, edition: Edition, by: str, now: datetime, template: str | None) -> BuildRequest:
        period = edition.key.removeprefix(Month.KEY_PREFIX)
        return BuildRequest(
            now, period=period, send_at=edition.send_at, audience=edition.audience, template=template, by=by
        )

    def build(self, service: Service, request: BuildRequest) -> BuildOutcome:
        """The month's items since the previous edition, rendered once with optional blocks; with
        nothing new the edition is held (and keeps no item back from the next one)."""
        config = service.config
        month = self.month(request)
        themes, problems = service.themes()
        audience = request.audience or self.default_audience(config)
        segment = service.segment(audience, problems)
        with service.db.session() as session:
            existing = edition_or_none(session, month.edition_key)
            check_rebuildable(existing, request)
            was_approved = existing is not None and existing.status == EditionStatus.APPROVED
            composition = compose_newsletter(
                session, config, themes, month, request.now, kind=self.key, audience=audience
            )
            problems += composition.problems
            edition, content = composition.edition, composition.content
            edition.html = edition.text = None
            if not composition.is_held:
                template = request.template or self.default_template(config)
                rendered = self.render(
                    service, template, context(config, content, edition.key, edition.subject)
                )
                edition.html, edition.text = rendered.html, rendered.text
                problems += self.size_warnings(edition.key, rendered)
            revision = note_build(session, edition, request.by, request.now)
            size = audience_size(session, segment_clause(segment))
            return BuildOutcome(
                edition.key,
                EditionStatus(edition.status),
                edition.reason,
                size,
                f"{content.item_count} items"
                + (f" ({composition.left_out} left out)" if composition.left_out else ""),
                content.summary(),
                problems,
                revision=revision,
                was_approved=was_approved,
            )

    def introduction(self, service: Service, edition: Edition) -> str:
        month = Month.parse(edition.key.removeprefix(Month.KEY_PREFIX))
        return introduction_of(service.config, month, edition.introduction)

    def on_withdrawn(self, session: Session, edition: Edition) -> None:
        # Its items go back to the ledger: a held or discarded edition keeps nothing back from the next.
        session.execute(update(Item).where(Item.edition_id == edition.id).values(edition_id=None))

    def sample_context(self, service: Service) -> dict[str, Any]:
        return context(service.config, sample_content(), "nieuwsbrief-check", "Controle")


def sample_content() -> NewsletterContent:
    """A newsletter with something in every section, so every template branch renders."""
    now = utcnow()
    entry = Entry(
        "Voorbeeldbericht",
        "https://www.ipo.example.org/nieuws/voorbeeld",
        "<p>Tekst</p>",
        now,
        "IPO-nieuws",
    )
    cut = dataclasses.replace(entry, summary_html="<p>Lange tekst…</p>", read_more=entry.link)
    sections = [Section(t.id, t.name, [entry]) for t in THEMES] + [
        Section("overig", "Overig nieuws", [entry, cut])
    ]
    event = Event(
        "Kennissessie",
        "https://www.ipo.example.org/agenda/1",
        "<p>Tekst</p>",
        now + timedelta(days=3),
        now + timedelta(days=3, hours=2),
        "Den Haag",
        "Kennissessies",
    )
    return NewsletterContent(
        Month.of(now), "<p>Inleiding</p>", sections, [event], [entry], {PROVINCES[0].name: [entry]}
    )


KIND = NewsletterKind()
