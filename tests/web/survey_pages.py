"""Helpers for the survey form's web tests: a round seeded for the site's contacts, and the page
read as a screen reader meets it (controls, labels, groups, errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from sqlalchemy import func, select

from comms.store.models import SurveyDraft, SurveyInvitation, SurveyPoolEntry, SurveyResponse
from comms.survey.definitions import SurveyDefinition
from comms.survey.pool import Pooled, Seal
from tests.survey.seeding import DURING, pamflet, seed_round, survey_token
from tests.web.support import ANNA, BRAM, Site


@dataclass
class SurveyRound:
    """The example round for the site's contacts (Anna and Bram), with the clock inside it."""

    site: Site
    definition: SurveyDefinition

    def url(self, contact: tuple[str, str] = ANNA) -> str:
        return f"/enquete/{survey_token(self.site.service.signer(), contact[1])}"

    def counts(self) -> tuple[int, int, int]:
        """(responses: written, or waiting in an anonymous round's pool; drafts; submitted invitations)."""
        with self.site.service.db.session() as session:
            return (
                (session.scalar(select(func.count()).select_from(SurveyResponse)) or 0)
                + (session.scalar(select(func.count()).select_from(SurveyPoolEntry)) or 0),
                session.scalar(select(func.count()).select_from(SurveyDraft)) or 0,
                session.scalar(select(func.count()).where(SurveyInvitation.submitted.is_(True))) or 0,
            )

    def pooled(self) -> list[dict[str, object]]:
        """The answers waiting in the pool, opened as the service opens them."""
        seal = Seal(self.site.service.config.secret_key or "")
        with self.site.service.db.session() as session:
            sealed = session.scalars(select(SurveyPoolEntry.sealed)).all()
        opened = [seal.open(s, self.definition.round) for s in sealed]
        return [Pooled.from_bytes(o).answers for o in opened if o is not None]  # type: ignore[misc]


def open_round(site: Site, **changes: object) -> SurveyRound:
    definition = pamflet(**changes)
    with site.service.db.session() as session:
        seed_round(session, definition, [ANNA[1], BRAM[1]])
    site.clock.moment = DURING
    return SurveyRound(site, definition)


@dataclass
class Control:
    tag: str
    attrs: dict[str, str | None]

    @property
    def type(self) -> str:
        return self.attrs.get("type") or self.tag

    @property
    def is_checked(self) -> bool:
        return "checked" in self.attrs


@dataclass
class SurveyPage(HTMLParser):
    """The parts of a page that assistive technology announces, and what would make it need JS."""

    html: str
    controls: list[Control] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # for → text
    texts: dict[str, str] = field(default_factory=dict)  # textarea name → content
    counts: dict[str, int] = field(default_factory=dict)  # tag → how many
    ids: dict[str, dict[str, str | None]] = field(default_factory=dict)
    scripting: list[str] = field(default_factory=list)  # <script> or on…= handlers
    links: list[str] = field(default_factory=list)
    groups: list[dict[str, str | None]] = field(default_factory=list)  # the fieldsets' attributes
    _label_for: str | None = None
    _textarea: str | None = None

    def __post_init__(self) -> None:
        super().__init__()
        self.feed(self.html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if values.get("id"):
            assert values["id"] not in self.ids, f"duplicate id {values['id']}"
            self.ids[values["id"]] = values
        self.scripting += [name for name in values if name.startswith("on")]
        if tag == "script":
            self.scripting.append("script")
        elif tag in ("input", "textarea") and values.get("type") != "hidden":
            self.controls.append(Control(tag, values))
            if tag == "textarea":
                self._textarea = values.get("name")
                self.texts[self._textarea or ""] = ""
        elif tag == "label":
            self._label_for = values.get("for")
            self.labels[self._label_for or ""] = ""
        elif tag == "fieldset":
            self.groups.append(values)
        elif tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._label_for is not None:
            self.labels[self._label_for] += data
        if self._textarea is not None:
            self.texts[self._textarea] += data

    def named(self, name: str) -> list[Control]:
        return [c for c in self.controls if c.attrs.get("name") == name]

    def chosen(self, name: str) -> list[str]:
        return [c.attrs.get("value") or "" for c in self.named(name) if c.is_checked]

    def label_of(self, control: Control) -> str:
        return " ".join(self.labels.get(control.attrs.get("id") or "", "").split())
