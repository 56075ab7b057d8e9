"""The preference centre over HTTP: pre-filled, saved, kept across re-imports, bounces held."""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime, timedelta
from html.parser import HTMLParser

import httpx
import pytest

from comms import kinds
from comms.audience.contacts import Contact as ContactRow
from comms.audience.sync import import_contacts
from comms.domain import THEMES
from comms.store.models import Contact
from comms.tokens import Purpose
from comms.track.preferences import get_preferences
from comms.track.suppressions import HARD_BOUNCE, SPAM_REPORT, UNSUBSCRIBED, list_suppressions, suppress
from tests.fakes.smtp import FakeSMTPServer
from tests.survey.seeding import CLOSES, DURING
from tests.web.support import ANNA, BRAM, NOW, Site, SiteFactory, notices, seed_contacts
from tests.web.survey_pages import open_round

ALL_KINDS = sorted(kinds.all_keys())
STATENLID = {"newsletter", "survey"}  # what reaches the seeded contacts, Statenleden in Utrecht
ALL_THEMES = [t.id for t in THEMES]
ROUNDS = 30  # requests per kind of address in the timing test


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
        f"/voorkeuren/{site.token(Purpose.PREFERENCES, contact)}",
        data={"formulier": "voorkeuren", "kind": kinds, "theme": themes},
    )
    assert response.status_code == 200
    return response.text


def test_the_page_starts_with_what_reaches_them_ticked_and_is_accessible(site: Site) -> None:
    form = page(site)

    assert form.checked("kind") == STATENLID
    assert form.checked("theme") == set(ALL_THEMES)
    assert form.disabled("kind") == set()
    assert (form.fieldsets, form.legends, form.h1) == (2, 2, 1)
    assert {a["id"] for a in form.checkboxes.values()} <= form.labels  # every checkbox has its label


# -- what is offered: the kinds that can reach the contact, the themes of their export row ------

CAROLIEN = ("carolien.smit@gelderland.example.org", "c3c3c3c3c3c3c3c3")


def seed_one(
    site: Site, roles: str, bodies: str = ",", themes: str = ",", province: str = "Gelderland"
) -> None:
    seed_contacts(site.service, (CAROLIEN,))
    with site.service.db.session() as session:
        contact = session.query(Contact).filter_by(email=CAROLIEN[0]).one()
        contact.roles, contact.bodies, contact.themes, contact.province = roles, bodies, themes, province


@pytest.mark.parametrize(
    ("roles", "bodies", "offered"),
    [
        (",statenlid,", ",", {"newsletter", "survey"}),
        (",statenlid,av-lid,", ",av:lid,", {"newsletter", "agenda-notice", "survey"}),
        (",gedeputeerde,ipo-bestuurslid,", ",ipo-bestuur:lid,", {"agenda-notice", "survey"}),
        (",gedeputeerde,bac-lid,", ",bac-landelijk-gebied:plaatsvervanger,", {"agenda-notice", "survey"}),
        (",kps,", ",", {"agenda-notice", "survey"}),
        (",cdk,", ",", {"survey"}),
        (",griffier,", ",", {"agenda-digest", "survey"}),
        (",griffie,", ",", {"agenda-digest"}),
    ],
    ids=[
        "statenlid",
        "av-lid",
        "ipo-bestuurslid",
        "bac-plaatsvervanger",
        "provinciesecretaris",
        "cdk",
        "griffier",
        "griffie-contact",
    ],
)
def test_only_the_kinds_their_roles_receive_are_offered_all_ticked(
    site: Site, roles: str, bodies: str, offered: set[str]
) -> None:
    seed_one(site, roles, bodies)

    form = page(site, CAROLIEN)

    assert set(form.checkboxes) == {f"kind:{k}" for k in offered} | {
        f"theme:{t}" for t in ALL_THEMES if "newsletter" in offered
    }
    assert form.checked("kind") == offered


def test_someone_no_mailing_reaches_is_told_so_and_offered_nothing(site: Site) -> None:
    seed_one(site, ",ipo-staff,")

    response = site.client.get(f"/voorkeuren/{site.token(Purpose.PREFERENCES, CAROLIEN)}")

    assert Form(response.text).checkboxes == {}
    assert "Er is op dit moment geen e-mail van ons voor u." in response.text
    assert "Voorkeuren opslaan" not in response.text


def test_saving_changes_only_the_kinds_offered_and_keeps_the_themes_of_a_page_without_them(
    site: Site,
) -> None:
    seed_one(site, ",gedeputeerde,", themes=",landelijk-gebied,")

    save(site, ["survey", "newsletter"], ["klimaat-leefomgeving"], CAROLIEN)  # newsletter: a hand-made post

    with site.service.db.session() as session:
        reasons = {(s.scope, s.reason) for s in list_suppressions(session, CAROLIEN[0])}
        view = get_preferences(session, CAROLIEN[0], ALL_KINDS)
    assert reasons == {("agenda-notice", "preference centre")}
    assert view.chosen_themes is None  # no theme question was asked, so no choice was made
    assert view.themes == {"landelijk-gebied"}


def test_when_their_roles_change_the_page_follows(site: Site) -> None:
    seed_one(site, ",statenlid,")
    save(site, ["survey"], [], CAROLIEN)  # no newsletter, please

    with site.service.db.session() as session:  # the next import: now a gedeputeerde
        session.query(Contact).filter_by(email=CAROLIEN[0]).one().roles = ",gedeputeerde,"
    form = page(site, CAROLIEN)

    assert form.checked("kind") == {"agenda-notice", "survey"}
    assert "kind:newsletter" not in form.checkboxes
    with site.service.db.session() as session:  # back to the Staten: their choice is still there
        session.query(Contact).filter_by(email=CAROLIEN[0]).one().roles = ",statenlid,"
    assert page(site, CAROLIEN).checked("kind") == {"survey"}


@pytest.mark.parametrize(
    ("moment", "offered"), [(DURING, {"survey"}), (CLOSES, set())], ids=["open", "closed"]
)
def test_an_invitee_of_an_open_round_is_offered_the_survey_whatever_their_roles_now(
    site: Site, moment: datetime, offered: set[str]
) -> None:
    open_round(site)  # invites Anna, a Statenlid
    with site.service.db.session() as session:
        session.query(Contact).filter_by(email=ANNA[0]).one().roles = ",ipo-staff,"
    site.clock.moment = moment

    assert page(site).checked("kind") == offered  # the round's reminders would still reach her


def test_with_a_broken_segments_file_a_kind_is_offered_rather_than_hidden(site: Site) -> None:
    segments = site.config.resolve(site.config.segments_file)
    segments.write_text(segments.read_text(encoding="utf-8") + '\n[segments.kapot]\nroles = ["koning"]\n')

    form = page(site)

    assert form.checked("kind") == {"newsletter", "agenda-digest", "survey"}  # the segments' kinds: all


def test_a_global_unsubscribe_lifted_here_still_stops_the_kinds_not_offered(site: Site) -> None:
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", UNSUBSCRIBED, NOW)  # SendGrid's global unsubscribe

    save(site, ["newsletter"], [])

    with site.service.db.session() as session:
        reasons = {(s.scope, s.reason) for s in list_suppressions(session, ANNA[0])}
    assert reasons == {(k, "preference centre") for k in ALL_KINDS if k != "newsletter"}


@pytest.mark.parametrize(
    ("export", "choice", "ticked", "hint"),
    [
        (",landelijk-gebied,klimaat-leefomgeving,", None, {"landelijk-gebied", "klimaat-leefomgeving"}, True),
        (",", None, set(ALL_THEMES), False),
        (",landelijk-gebied,", ["ondernemen-cultuur"], {"ondernemen-cultuur"}, False),
        (",landelijk-gebied,", [], set(ALL_THEMES), False),
    ],
    ids=["from-the-export-row", "none-in-the-export-row", "own-choice-wins", "chose-every-theme"],
)
def test_themes_start_from_the_export_row_until_they_choose(
    site: Site, export: str, choice: list[str] | None, ticked: set[str], hint: bool
) -> None:
    seed_one(site, ",statenlid,", themes=export)
    if choice is not None:
        save(site, ["newsletter", "survey"], choice, CAROLIEN)

    response = site.client.get(f"/voorkeuren/{site.token(Purpose.PREFERENCES, CAROLIEN)}")

    assert Form(response.text).checked("theme") == ticked
    assert ("die uw griffie voor u heeft doorgegeven" in response.text) is hint


def test_choices_are_saved_and_shown_again(site: Site) -> None:
    text = save(site, ["newsletter"], ["landelijk-gebied", "wonen-bereikbaarheid"])

    assert "Uw voorkeuren zijn opgeslagen." in text
    assert Form(text).checked("kind") == {"newsletter"}
    form = page(site)
    assert form.checked("kind") == {"newsletter"}
    assert form.checked("theme") == {"landelijk-gebied", "wonen-bereikbaarheid"}
    with site.service.db.session() as session:
        reasons = {(s.scope, s.reason) for s in list_suppressions(session, ANNA[0])}
    assert reasons == {("survey", "preference centre")}  # kinds not offered are left alone
    assert page(site, BRAM).checked("kind") == STATENLID  # someone else's choices are their own


def test_choosing_a_kind_again_resubscribes_after_a_one_click_unsubscribe(site: Site) -> None:
    site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}", data={"List-Unsubscribe": "One-Click"})
    assert "newsletter" not in page(site).checked("kind")

    save(site, ALL_KINDS, [])

    assert page(site).checked("kind") == STATENLID
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
        after = get_preferences(session, ANNA[0], kinds.all_keys())
        assert (after.subscribed, after.chosen_themes, after.themes) == (
            before.subscribed,
            before.chosen_themes,
            before.themes,
        )
        assert after.interests == {"landelijk-gebied"}  # the export row's, no longer what is read
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
    assert form.disabled("kind") == STATENLID
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


# -- posts that are not the form ----------------------------------------------------------------


@pytest.mark.parametrize(
    "send",
    [
        pytest.param({}, id="empty"),
        pytest.param({"headers": {"Content-Type": "application/x-www-form-urlencoded"}}, id="empty-form"),
        pytest.param({"json": {"formulier": "voorkeuren", "kind": []}}, id="json"),
        pytest.param({"data": {"kind": ["newsletter"]}}, id="without-its-marker"),
        pytest.param({"data": {"formulier": "voorkeurenlink"}}, id="another-form"),
        pytest.param({"files": {"kind": (None, "newsletter")}}, id="multipart-without-marker"),
        pytest.param({"content": b"\xff\xfe\x00", "headers": {"Content-Type": "text/plain"}}, id="bytes"),
    ],
)
def test_a_post_that_is_not_the_form_changes_nothing_and_gets_400(site: Site, send: dict) -> None:
    save(site, ["newsletter", "survey"], ["landelijk-gebied"])

    response = site.client.post(f"/voorkeuren/{site.token(Purpose.PREFERENCES)}", **send)

    assert response.status_code == 400
    assert "<h1>Uw voorkeuren zijn niet opgeslagen</h1>" in response.text
    form = page(site)
    assert form.checked("kind") == {"newsletter", "survey"}
    assert form.checked("theme") == {"landelijk-gebied"}


def test_the_form_with_nothing_ticked_is_a_choice_and_is_saved(site: Site) -> None:
    save(site, [], [])

    assert page(site).checked("kind") == set()


# -- asking for a link: limits and timing ------------------------------------------------------

ASK = "/voorkeuren"
MANY = "1000/hour"


def ask(site: Site, address: str, client: httpx.Client | None = None) -> httpx.Response:
    return (client or site.client).post(ASK, data={"email": address})


def test_one_address_gets_at_most_three_links_an_hour_whatever_is_posted(
    make_site: SiteFactory, smtp_server: FakeSMTPServer
) -> None:
    site = make_site(smtp=smtp_server, preference_links_per_client=MANY)

    answers = [ask(site, f"  {ANNA[0].upper()} " if n % 2 else ANNA[0]) for n in range(50)]
    unknown = ask(site, "niemand@utrecht.example.org")

    assert {(a.status_code, a.text) for a in answers} == {(200, unknown.text)}  # all the same answer
    site.drain()
    assert [m.rcpt_tos for m in smtp_server.messages] == [(ANNA[0],)] * 3
    ask(site, BRAM[0])  # another address is counted on its own
    site.drain()
    assert len(smtp_server.messages) == 4


def test_one_client_may_ask_twenty_times_an_hour_then_gets_429(
    make_site: SiteFactory, smtp_server: FakeSMTPServer
) -> None:
    site = make_site(smtp=smtp_server)

    answers = [ask(site, f"iemand{n}@example.org").status_code for n in range(20)]
    refused = ask(site, ANNA[0])

    assert answers == [200] * 20
    assert refused.status_code == 429
    assert "<h1>Te veel verzoeken</h1>" in refused.text
    assert 3500 <= int(refused.headers["retry-after"]) <= 3601
    base = str(site.client.base_url)
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), base_url=base) as other:
        assert ask(site, ANNA[0], other).status_code == 200  # another client is counted apart
    site.drain()
    assert [m.rcpt_tos for m in smtp_server.messages] == [(ANNA[0],)]  # the refused ask sent nothing


@pytest.mark.parametrize("send", [{}, {"data": {"email": ""}}, {"data": {"mail": ANNA[0]}}])
def test_an_ask_without_an_address_gets_400_and_sends_nothing(site: Site, send: dict) -> None:
    response = site.client.post(ASK, **send)

    assert response.status_code == 400
    site.drain()
    assert notices(site) == []


def test_a_known_and_an_unknown_address_answer_in_the_same_time(
    make_site: SiteFactory, smtp_server: FakeSMTPServer
) -> None:
    site = make_site(smtp=smtp_server, preference_links_per_client=MANY)
    # A relay that takes 50 ms to accept each mail: sent inside the request, that would show.
    smtp_server.final_reply_delay = 0.05
    known = tuple((f"griffie{n}@provincie{n}.example.org", f"{n:016x}") for n in range(ROUNDS))
    seed_contacts(site.service, known)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}

    order = random.Random(12)
    for n in range(ROUNDS):  # mixed, so both meet the mail being sent in the background alike
        pair = [("known", known[n][0]), ("unknown", f"niemand{n}@provincie{n}.example.org")]
        order.shuffle(pair)
        for label, address in pair:
            started = time.perf_counter()
            assert ask(site, address).status_code == 200
            timings[label].append(time.perf_counter() - started)

    site.drain()
    assert len(smtp_server.messages) == ROUNDS  # the known addresses did get their link
    medians = {label: statistics.median(t) * 1000 for label, t in timings.items()}
    print(f"median ms over {ROUNDS} each: {medians}")
    assert abs(medians["known"] - medians["unknown"]) < max(3.0, 0.25 * medians["unknown"]), medians
