"""Every kind of mail comms sends, as it lands in the outbox, against one table: who it is from,
where a reply goes, whether it offers a one-click unsubscribe (and then that the web app honours
it), that auto-responders are told to stay quiet, that it is Dutch, that every Message-ID is
its own; and its text part: wrapped, single blank lines, "-- " before the IPO's signature.

The rule for long lines: at most 78 columns (wrapped at 72), except a line that holds nothing
but one URL after its indent (a URL broken in two stops working).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

import tests.test_agenda as agenda
from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import FixedClock
from comms.config import ItemKind, load_config
from comms.deliver.outbox import OutboxTransport
from comms.editions import delivery, lifecycle
from comms.editions.proofs import send_proofs
from comms.kinds import BuildRequest
from comms.kinds.agenda_notice import KIND as NOTICES
from comms.notify import TeamNotice, notify_team
from comms.operations import editions, recipients, surveys
from comms.operations.agenda import build_digest
from comms.operations.sources import collect
from comms.render.wrap import MAX_WIDTH, is_too_long
from comms.service import Service
from comms.store.models import Contact, Suppression
from comms.web.app import create_app
from tests.conftest import REPO, SECRET
from tests.web.support import serve

NEWSLETTER_AT = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 8.00 in Amsterdam
SURVEY_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the round opened at 9.00
REMINDERS_AT = (datetime(2026, 12, 8, 9, 0, tzinfo=UTC), datetime(2026, 12, 14, 9, 0, tzinfo=UTC))
NOTICE_AT = agenda.at(2027, 3, 26, 10)  # too late for Groningen's GS agenda: goes at once
DIGEST_AT = agenda.at(2027, 3, 29, 9)
SERVICE_AT = agenda.at(2027, 3, 30, 9)
# Statenleden with and without theme choices, an AV member: the newsletter's variants cut blocks.
CONTACTS = agenda.CONTACTS + (
    "piet.ps@utrecht.example.org;Piet;van der;Berg-Wijnaldum;Utrecht;statenlid;;"
    "Landelijk Gebied;Algemene Vergadering (lid)\n"
    "lies.ps@zeeland.example.org;Lies;;Laan;Zeeland;statenlid;;Wonen & Bereikbaarheid;\n"
)
LONG_TITLE = (
    "Provincies en Rijk maken afspraken over de uitvoering van het gebiedsprogramma "
    "landelijk gebied, stikstof, natuurherstel en water in de komende jaren"
)


@dataclass(frozen=True, slots=True)
class Row:
    """What one kind of mail must say about itself."""

    name: str
    folder: str  # the start of its outbox folder's name (an edition key, or "meldingen")
    subject: str  # the start of its subject, which picks these messages out of the folder
    sender: str
    reply_to: str
    signature: str  # the first line below "-- "
    one_click: bool  # List-Unsubscribe and List-Unsubscribe-Post, and the link works
    kind: str | None  # the mailing kind the one-click link unsubscribes from
    preheader: str = ""  # the start of the first visible line (HTML built from MJML)

    @property
    def is_test_copy(self) -> bool:
        return self.subject.startswith("[TEST]")


DESK = ("agenda@ipo.example.org", "agendadesk@ipo.example.org", "Agendadesk IPO")
SERVICE = ("noreply@ipo.example.org", "communicatie@ipo.example.org", "Interprovinciaal Overleg (IPO)")
NEWSLETTER = ("nieuwsbrief@ipo.example.org", "redactie@ipo.example.org", "Redactie IPO-nieuwsbrief")
SURVEY = ("evaluatie@ipo.example.org", "evaluatie@ipo.example.org", "Team Evaluatie pamflet")
ROUND = "enquete-2026-h2-"
NOTICE_PREHEADER = "BAC Landelijk Gebied, donderdag 1 april 2027: agenda voor GS"
TABLE = [
    Row("newsletter", "nieuwsbrief-2026-12", "IPO-nieuwsbrief", *NEWSLETTER, True, "newsletter", "Nieuws,"),
    Row("newsletter test copy", "nieuwsbrief-2026-12", "[TEST] IPO", *NEWSLETTER, False, None, "TESTVERSIE"),
    Row("agenda notice", "agenda-", "Spoed: Agenda", *DESK, True, "agenda-notice", NOTICE_PREHEADER),
    Row("agenda notice test copy", "agenda-", "[TEST] Spoed", *DESK, False, None, "TESTVERSIE"),
    Row("agenda digest", "agendaoverzicht-", "Agenda's van het IPO", *DESK, True, "agenda-digest", "IPO-"),
    Row(
        "survey invitation",
        "enquete-2026-h2-uitnodiging",
        "Uitnodiging",
        *SURVEY,
        True,
        "survey",
        "Evaluatie",
    ),
    Row(
        "survey reminder 1",
        "enquete-2026-h2-herinnering-1",
        "Herinnering",
        *SURVEY,
        True,
        "survey",
        "Herinnering",
    ),
    Row(
        "survey reminder 2",
        "enquete-2026-h2-herinnering-2",
        "Herinnering",
        *SURVEY,
        True,
        "survey",
        "Herinnering",
    ),
    Row("team notice", "meldingen", "Ter goedkeuring", *SERVICE, False, None),
    Row("preference link", "meldingen", "Uw voorkeuren", *SERVICE, False, None),
]


@dataclass
class Sent:
    service: Service
    outbox: Path
    web: httpx.Client

    def messages(self, row: Row) -> list[EmailMessage]:
        found = []
        for folder in sorted(self.outbox.iterdir()):
            if not folder.name.startswith(row.folder) or folder.name.endswith("-test") != row.is_test_copy:
                continue
            for path in sorted((folder / "messages").glob("*.eml")):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                if str(message["Subject"]).startswith(row.subject):
                    found.append(message)
        return found

    def every_message(self) -> list[EmailMessage]:
        return [m for row in TABLE for m in self.messages(row)]


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Sent]:
    """Every kind sent once into the outbox of a project laid out like the repository."""
    root = tmp_path_factory.mktemp("headers") / "project"
    root.mkdir()
    for folder in ("templates", "audiences", "schedules", "sample"):
        shutil.copytree(REPO / folder, root / folder)
    database = root / "comms.sqlite3"
    shutil.copyfile(sqlite_template, database)
    text = (REPO / "comms.toml").read_text(encoding="utf-8")
    (root / "comms.toml").write_text(
        text.replace('url = "sqlite:///var/comms.sqlite3"', f'url = "sqlite:///{database}"'), encoding="utf-8"
    )
    (root / "audiences" / "gs-calendar.toml").write_text(agenda.CALENDAR, encoding="utf-8")
    contacts = root / "audiences" / "contacts"
    for path in contacts.glob("*.csv"):
        path.unlink()
    (contacts / "test.csv").write_text(CONTACTS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COMMS_SECRET_KEY", SECRET)
        config, problems = load_config(root / "comms.toml")
        assert config, problems
        # The news feeds only: the agenda's meeting is published by the test itself.
        news = tuple(s for s in config.sources if s.kind is not ItemKind.MEETING)
        service = Service.open(dataclasses.replace(config, sources=news))
        try:
            _send_everything(service)
            with (
                serve(create_app(service, FixedClock(SERVICE_AT + timedelta(days=1)))) as base,
                httpx.Client(base_url=base) as client,
            ):
                yield Sent(service, service.outbox_dir, client)
        finally:
            service.db.dispose()


def _send_everything(service: Service) -> None:
    audience = read_audience(service.config.contact_files())
    with service.db.session() as session:
        import_contacts(session, audience.contacts, NEWSLETTER_AT - timedelta(days=1))
    # The newsletter, from the sample feeds, and a test copy of it.
    clock = FixedClock(NEWSLETTER_AT)
    collect(service, NEWSLETTER_AT, clock)
    build = editions.build(service, "newsletter", BuildRequest(NEWSLETTER_AT, period="2026-12"))
    lifecycle.approve(service, build.key, "redactie", NEWSLETTER_AT)
    send_proofs(service, build.key, ["redactie@ipo.example.org"], clock)
    delivery.send(service, build.key, OutboxTransport(service.outbox_dir, build.key), clock)
    # The survey: invitation, then two reminders.
    started = surveys.start(service, "2026-H2", FixedClock(SURVEY_AT))
    lifecycle.approve(service, started.edition_key, "redactie", SURVEY_AT)  # the schedule asks for it
    _deliver(service, editions.start_due(service, "survey", FixedClock(SURVEY_AT)), SURVEY_AT)
    for moment in REMINDERS_AT:
        _deliver(service, surveys.remind(service, FixedClock(moment)).started, moment)
    # An agenda notice (with a long agenda item) and its test copy; the digest.
    long_item = dataclasses.replace(agenda.meeting().items[1], title=LONG_TITLE)
    meeting = dataclasses.replace(agenda.meeting(), items=(agenda.meeting().items[0], long_item))
    agenda.publish(service, NOTICE_AT, meeting)
    NOTICES.build_due(service, NOTICE_AT, approval=agenda.AS_SCHEDULED)
    started_notices = lifecycle.start_due(service, NOTICES, FixedClock(NOTICE_AT))
    _deliver(service, started_notices, NOTICE_AT)
    send_proofs(service, started_notices[0], ["redactie@ipo.example.org"], FixedClock(NOTICE_AT))
    digest = build_digest(service, NOTICE_AT)
    lifecycle.approve(service, digest.key, "redactie", NOTICE_AT)
    delivery.send(service, digest.key, OutboxTransport(service.outbox_dir, digest.key), FixedClock(DIGEST_AT))
    # Service mail, each twice in the same second: team notices, requested preference links.
    clock = FixedClock(SERVICE_AT)
    for _ in range(2):
        notice = TeamNotice("Ter goedkeuring: nieuwsbrief-2026-12", ["De nieuwsbrief wacht op goedkeuring."])
        notify_team(service.config, service.signer(), notice, (), clock)
        recipients.mail_preferences_link(service, "greet.griffie@utrecht.example.org", clock)


def _deliver(service: Service, keys: list[str], now: datetime) -> None:
    for key in keys:
        delivery.deliver_edition(service, key, OutboxTransport(service.outbox_dir, key), FixedClock(now))


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_who_it_is_from_and_where_a_reply_goes(sent: Sent, row: Row) -> None:
    messages = sent.messages(row)
    assert messages, row.name
    for message in messages:
        assert message["From"].addresses[0].addr_spec == row.sender
        assert message["Reply-To"].addresses[0].addr_spec == row.reply_to
        assert message["Auto-Submitted"] == "auto-generated"  # RFC 3834: no out-of-office back
        assert message["X-Auto-Response-Suppress"] == "OOF, AutoReply"  # not NDR: bounces must come
        assert message["Content-Language"] == "nl"


@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_a_one_click_unsubscribe_only_where_it_works(sent: Sent, row: Row) -> None:
    message = sent.messages(row)[0]
    if not row.one_click:
        for header in ("List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"):
            assert message[header] is None, header
        return
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = [part.strip(" <>") for part in str(message["List-Unsubscribe"]).split(",")]
    https = next(link for link in links if link.startswith("https://"))
    assert any(link.startswith("mailto:afmelden@ipo.example.org?subject=") for link in links)
    # What a mailbox provider does with the header (RFC 8058): a POST, no cookies, no redirect.
    response = sent.web.post(urlsplit(https).path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and not response.is_redirect
    address = message["To"].addresses[0].addr_spec
    with sent.service.db.session() as session:
        scopes = session.scalars(select(Suppression.scope).where(Suppression.email == address)).all()
    assert row.kind in scopes


def test_every_message_has_its_own_message_id(sent: Sent) -> None:
    ids = [str(m["Message-ID"]) for m in sent.every_message()]
    assert len(ids) > 20 and len(set(ids)) == len(ids)
    # Service mail twice in one second is still two messages (a mail system would drop one).
    service = [m for row in TABLE if row.folder == "meldingen" for m in sent.messages(row)]
    # Two of each, and the request to approve the survey invitation.
    assert len(service) == 5 and len({str(m["Message-ID"]) for m in service}) == 5


def test_a_bulk_message_keeps_its_stable_id_per_edition_and_recipient(sent: Sent) -> None:
    """The crash-window guarantee: a repeat of the same message carries the same Message-ID."""
    for message in sent.messages(TABLE[0]):
        address = message["To"].addresses[0].addr_spec
        with sent.service.db.session() as session:
            public_id = session.scalars(select(Contact.public_id).where(Contact.email == address)).one()
        assert message["Message-ID"] == f"<nieuwsbrief-2026-12.{public_id}@ipo.example.org>"


@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_the_text_part_is_wrapped_single_spaced_and_signed(sent: Sent, row: Row) -> None:
    for message in sent.messages(row):
        text = plain(message)
        lines = text.split("\n")
        too_long = [line for line in lines if is_too_long(line)]
        assert not too_long, f"over {MAX_WIDTH} columns: {too_long}"
        assert "\n\n\n" not in text, "a run of blank lines"
        assert text.endswith("\n") and not text.endswith("\n\n")
        assert lines.count("-- ") == 1, "one signature separator, dash dash space"
        assert lines[lines.index("-- ") + 1] == row.signature
        words = re.sub(r"https?://\S+", "", text.split("\n-- \n", 1)[1])
        assert "comms" not in words.lower()  # signed by the IPO, never by the tool


def test_no_line_is_long_because_of_its_words_only_because_of_a_url(sent: Sent) -> None:
    """Measured: the longest line that is not a lone URL, over every text part."""
    widest = max(
        (len(line) for m in sent.every_message() for line in plain(m).split("\n") if " " in line.strip()),
        default=0,
    )
    assert widest <= 72


def test_the_invitation_says_it_is_anonymous_once(sent: Sent) -> None:
    invitation = sent.messages(TABLE[5])[0]
    assert plain(invitation).count("anoniem") == 1
    html = invitation.get_body(("html",))
    assert html is not None and str(html.get_content()).count("anoniem") == 1


class _Contrast(HTMLParser):
    """SpamAssassin's HTML_FONT_LOW_CONTRAST, as HTML.pm computes it: text whose colour is
    within a brightness-weighted distance of 12 of its background; and text hidden by style."""

    VOID = frozenset({"br", "img", "meta", "link", "hr", "input", "col", "area", "base", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str, str, bool]] = [("", "#000000", "#ffffff", False)]
        self.low: list[str] = []
        self.hidden: list[str] = []
        self.texts: list[str] = []  # in the body, in order

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        _, fg, bg, hidden = self.stack[-1]
        values = dict(attrs)
        bg = values.get("bgcolor") or bg
        for declaration in (values.get("style") or "").split(";"):
            name, _, value = (p.strip().lower() for p in declaration.partition(":"))
            if name == "color" and value.startswith("#"):
                fg = value
            elif name in ("background-color", "background") and value.startswith("#"):
                bg = value.split()[0]
            elif (name, value) in (("display", "none"), ("visibility", "hidden"), ("opacity", "0")):
                hidden = True
        self.stack.append((tag, fg, bg, hidden))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not data.strip() or any(tag in ("style", "title", "script", "head") for tag, *_ in self.stack):
            return
        _, fg, bg, hidden = self.stack[-1]
        self.texts.append(" ".join(data.split()))
        if hidden:
            self.hidden.append(data.strip())
        if _distance(fg, bg) < 12:
            self.low.append(data.strip())


def _distance(fg: str, bg: str) -> float:
    def rgb(colour: str) -> tuple[int, int, int]:
        value = colour.lstrip("#")
        value = "".join(c * 2 for c in value) if len(value) == 3 else value[:6]
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)

    (r1, g1, b1), (r2, g2, b2) = rgb(fg), rgb(bg)
    return float(((0.2126 * (r1 - r2)) ** 2 + (0.7152 * (g1 - g2)) ** 2 + (0.0722 * (b1 - b2)) ** 2) ** 0.5)


@pytest.mark.parametrize("row", [r for r in TABLE if r.preheader], ids=lambda r: r.name)
def test_the_preheader_is_visible_text_in_normal_contrast(sent: Sent, row: Row) -> None:
    """No text a filter reads as hidden (white on light grey scored HTML_FONT_LOW_CONTRAST): the
    preheader is the first line a reader sees, and what the inbox shows beside the subject."""
    for message in sent.messages(row):
        html = message.get_body(("html",))
        assert html is not None
        parser = _Contrast()
        parser.feed(str(html.get_content()))
        assert parser.low == [] and parser.hidden == []
        assert parser.texts[0].startswith(row.preheader), parser.texts[:2]
