"""The preference centre over HTTP: pre-filled, saved, kept across re-imports, bounces held."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest

from comms import kinds
from comms.audience.contacts import Contact as ContactRow
from comms.audience.sync import import_contacts
from comms.domain import THEMES
from comms.store.models import Contact
from comms.tokens import Purpose
from comms.track.preferences import get_preferences
from comms.track.suppressions import HARD_BOUNCE, SPAM_REPORT, list_suppressions, suppress
from tests.web.support import ANNA, BRAM, NOW, Site

ALL_KINDS = sorted(kinds.all_keys())
ALL_THEMES = [t.id for t in THEMES]


class Form(HTMLParser):
    """The checkboxes, labels, fieldsets and headings of a page: what a screen reader announces."""

    def __init__(self, page: str):
        super().__init__()
        self.checkboxes: dict[str, dict[str, str | None]] = {}
        self.labels: set[str] = set()
        self.legends = 0
        self.fieldsets = 0
        self.h1 = 0
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "checkbox":
            self.checkboxes[f"{values['name']}:{values['value']}"] = values
        elif tag == "label" and values.get("for"):
            self.labels.add(values["for"] or "")
        self.fieldsets += tag == "fieldset"
        self.legends += tag == "legend"
        self.h1 += tag == "h1"

    def checked(self, name: str) -> set[str]:
        return {
            key.split(":", 1)[1]
            for key, a in self.checkboxes.items()
            if key.startswith(name) and "checked" in a
        }

    def disabled(self, name: str) -> set[str]:
        return {
            key.split(":", 1)[1]
            for key, a in self.checkboxes.items()
            if key.startswith(name) and "disabled" in a
        }


def page(site: Site, contact: tuple[str, str] = ANNA) -> Form:
    response = site.client.get(f"/voorkeuren/{site.token(Purpose.PREFERENCES, contact)}")
    assert response.status_code == 200
    return Form(response.text)


def save(site: Site, kinds: list[str], themes: list[str], contact: tuple[str, str] = ANNA) -> str:
    response = site.client.post(
        f"/voorkeuren/{site.token(Purpose.PREFERENCES, contact)}", data={"kind": kinds, "theme": themes}
    )
    assert response.status_code == 200
    return response.text


def test_the_page_starts_with_everything_and_is_accessible(site: Site) -> None:
    form = page(site)

    assert form.checked("kind") == set(ALL_KINDS)
    assert form.checked("theme") == set(ALL_THEMES)
    assert form.disabled("kind") == set()
    assert (form.fieldsets, form.legends, form.h1) == (2, 2, 1)
    assert {a["id"] for a in form.checkboxes.values()} <= form.labels  # every checkbox has its label


def test_choices_are_saved_and_shown_again(site: Site) -> None:
    text = save(site, ["newsletter", "survey"], ["landelijk-gebied", "wonen-bereikbaarheid"])

    assert "Uw voorkeuren zijn opgeslagen." in text
    assert Form(text).checked("kind") == {"newsletter", "survey"}
    form = page(site)
    assert form.checked("kind") == {"newsletter", "survey"}
    assert form.checked("theme") == {"landelijk-gebied", "wonen-bereikbaarheid"}
    with site.service.db.session() as session:
        reasons = {(s.scope, s.reason) for s in list_suppressions(session, ANNA[0])}
    assert reasons == {("agenda-notice", "preference centre"), ("agenda-digest", "preference centre")}
    assert page(site, BRAM).checked("kind") == set(ALL_KINDS)  # someone else's choices are their own


def test_choosing_a_kind_again_resubscribes_after_a_one_click_unsubscribe(site: Site) -> None:
    site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}", data={"List-Unsubscribe": "One-Click"})
    assert "newsletter" not in page(site).checked("kind")

    save(site, ALL_KINDS, [])

    assert page(site).checked("kind") == set(ALL_KINDS)
    with site.service.db.session() as session:
        assert list_suppressions(session, ANNA[0]) == []


def test_choices_survive_a_reimport_of_the_same_contacts(site: Site) -> None:
    save(site, ["newsletter"], ["klimaat-leefomgeving"])
    rows = [
        ContactRow(
            email=email,
            first_name="Opnieuw",
            infix="",
            last_name="Geimporteerd",
            province="Utrecht",
            roles=frozenset({"statenlid"}),
            themes=frozenset({"landelijk-gebied"}),
            source="export.csv",
        )
        for email, _ in (ANNA, BRAM)
    ]
    with site.service.db.session() as session:
        before = get_preferences(session, ANNA[0], kinds.all_keys())
        counts = import_contacts(session, rows, NOW + timedelta(days=30))
    assert (counts.added, counts.updated) == (0, 2)

    with site.service.db.session() as session:
        assert get_preferences(session, ANNA[0], kinds.all_keys()) == before
        contact = session.query(Contact).filter_by(email=ANNA[0]).one()
        assert (contact.public_id, contact.first_name) == (ANNA[1], "Opnieuw")
    form = page(site)  # the links in earlier mail still lead to the same choices
    assert form.checked("kind") == {"newsletter"}
    assert form.checked("theme") == {"klimaat-leefomgeving"}


@pytest.mark.parametrize(
    ("reason", "hint"), [(HARD_BOUNCE, "kon niet worden bezorgd"), (SPAM_REPORT, "als spam")]
)
def test_a_bounce_or_complaint_cannot_be_undone_from_the_preference_centre(
    site: Site, reason: str, hint: str
) -> None:
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", reason, NOW)

    response = site.client.get(f"/voorkeuren/{site.token(Purpose.PREFERENCES)}")
    form = Form(response.text)
    assert form.disabled("kind") == set(ALL_KINDS)
    assert form.checked("kind") == set()
    assert hint in response.text
    save(site, ALL_KINDS, ALL_THEMES)  # a hand-made post that ticks them anyway

    with site.service.db.session() as session:
        assert [(s.scope, s.reason) for s in list_suppressions(session, ANNA[0])] == [("*", reason)]
    assert page(site).checked("kind") == set()


def test_unknown_kinds_and_themes_in_a_post_are_ignored(site: Site) -> None:
    save(site, ["newsletter", "spam-van-derden"], ["landelijk-gebied", "<script>"])

    form = page(site)
    assert form.checked("kind") == {"newsletter"}
    assert form.checked("theme") == {"landelijk-gebied"}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("purpose", "expires_in", "status"),
    [
        (Purpose.UNSUBSCRIBE, timedelta(days=1), 403),
        (Purpose.PREFERENCES, timedelta(seconds=-1), 410),
    ],
    ids=["unsubscribe-token", "expired"],
)
def test_a_wrong_token_changes_nothing(
    site: Site, method: str, purpose: Purpose, expires_in: timedelta, status: int
) -> None:
    token = site.token(purpose, expires_at=NOW + expires_in)
    response = site.client.request(
        method, f"/voorkeuren/{token}", data={"kind": []} if method == "POST" else None
    )

    assert response.status_code == status
    with site.service.db.session() as session:
        assert list_suppressions(session) == []
