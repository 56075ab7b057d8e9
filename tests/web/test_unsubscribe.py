"""One-click unsubscribe (RFC 8058), token failures, the web version, health and headers, over HTTP."""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from email.message import EmailMessage

import pytest

from comms.tokens import Purpose, Signer
from comms.track.suppressions import HARD_BOUNCE, list_suppressions, suppress
from tests.fakes.smtp import FakeSMTPServer
from tests.web.support import (
    ANNA,
    BRAM,
    EDITION_KEY,
    NOW,
    Site,
    SiteFactory,
    notices,
    seed_ledger,
    text_of,
)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
ASK_LINK = {"formulier": "voorkeurenlink"}


def suppressions(site: Site) -> set[tuple[str, str, str]]:
    with site.service.db.session() as session:
        return {(s.email, s.scope, s.reason) for s in list_suppressions(session)}


def tamper(token: str) -> str:
    """The same token with another scope in its body: the signature no longer matches."""
    body, mac = token.split(".")
    text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    other = text.replace(".newsletter.", ".survey.")
    return base64.urlsafe_b64encode(other.encode()).rstrip(b"=").decode() + "." + mac


def test_get_shows_a_confirmation_page_and_changes_nothing(site: Site) -> None:
    response = site.client.get(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}")

    assert response.status_code == 200
    page = response.text
    assert '<html lang="nl">' in page
    assert "U ontvangt <strong>de maandelijkse nieuwsbrief voor Statenleden</strong> op" in page
    assert '<form method="post">' in page
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page
    assert '<button type="submit">Afmelden</button>' in page
    assert ANNA[0] not in page  # the address only masked: a forwarded link does not show it
    assert "a…@utrecht.example.org" in page
    assert suppressions(site) == set()


@pytest.mark.parametrize(
    ("kind", "sentence"),
    [
        ("newsletter", "<strong>de maandelijkse nieuwsbrief voor Statenleden</strong> niet meer"),
        ("agenda-digest", "<strong>het wekelijkse agendaoverzicht voor griffies</strong> niet meer"),
        ("agenda-notice", "<strong>de agendaberichten voor de GS-vergadering</strong> niet meer"),
        ("survey", "<strong>de uitnodigingen voor de evaluatie van het pamflet</strong> niet meer"),
    ],
)
def test_the_unsubscribed_page_names_the_kind_with_its_article(site: Site, kind: str, sentence: str) -> None:
    response = site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, scope=kind)}", data=ONE_CLICK)

    assert response.status_code == 200
    assert f"U ontvangt {sentence}" in response.text


def test_the_unsubscribe_page_mints_no_preference_link_but_mails_one_to_the_contact(site: Site) -> None:
    token = site.token(Purpose.UNSUBSCRIBE, scope="survey")
    pages = [site.client.get(f"/afmelden/{token}").text]
    pages.append(site.client.post(f"/afmelden/{token}", data=ONE_CLICK).text)
    for page in pages:  # whoever holds a (forwarded) unsubscribe link gets no preference centre
        assert "/voorkeuren/" not in page
        assert f'<form method="post" action="/afmelden/{token}/voorkeuren">' in page
    site.drain()
    assert notices(site) == []

    response = site.client.post(f"/afmelden/{token}/voorkeuren", data=ASK_LINK)

    assert response.status_code == 200
    assert "a…@utrecht.example.org met een\n      persoonlijke link" in response.text
    assert "/voorkeuren/" not in response.text
    site.drain()
    [mail] = notices(site)
    assert mail["To"] == ANNA[0]
    assert "List-Unsubscribe" not in mail
    found = re.search(r"https://comms\.ipo\.example\.org/voorkeuren/(\S+)", text_of(mail))
    assert found is not None
    claims = site.service.signer().verify(found.group(1), Purpose.PREFERENCES, NOW)
    assert (claims.subject, claims.scope, claims.expires_at) == (ANNA[1], "survey", NOW + timedelta(days=7))
    assert site.client.get(f"/voorkeuren/{found.group(1)}").status_code == 200


@pytest.mark.parametrize(
    "send",
    [
        pytest.param({}, id="empty"),
        pytest.param({"data": {"anders": "iets"}}, id="another-form"),
        pytest.param({"json": {"formulier": "voorkeurenlink"}}, id="json"),
    ],
)
def test_asking_for_a_preference_link_without_the_form_sends_nothing(site: Site, send: dict) -> None:
    response = site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}/voorkeuren", **send)

    assert response.status_code == 400
    assert "Uw verzoek is niet verwerkt" in response.text
    site.drain()
    assert notices(site) == []
    assert suppressions(site) == set()


@pytest.mark.parametrize(
    "send",
    [
        pytest.param({"data": ONE_CLICK}, id="form-urlencoded"),
        pytest.param({"files": {"List-Unsubscribe": (None, "One-Click")}}, id="multipart"),
        pytest.param({"content": b"List-Unsubscribe=One-Click"}, id="no-content-type"),
    ],
)
def test_one_click_post_unsubscribes_at_once(site: Site, send: dict) -> None:
    response = site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}", **send)

    assert response.status_code == 200
    assert "U bent afgemeld" in response.text
    assert suppressions(site) == {(ANNA[0], "newsletter", "unsubscribed")}


def test_one_click_is_idempotent_and_answers_without_redirect(site: Site) -> None:
    url = f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}"
    first = site.client.post(url, data=ONE_CLICK)
    site.clock.sleep(3600)
    second = site.client.post(url, data=ONE_CLICK)

    assert (first.status_code, second.status_code) == (200, 200)
    assert suppressions(site) == {(ANNA[0], "newsletter", "unsubscribed")}
    with site.service.db.session() as session:
        (row,) = list_suppressions(session)
        assert row.created_at == NOW  # the first unsubscribe is the one on record
    assert "afgemeld" in site.client.get(url).text  # the page now says so, and offers no button
    assert "Afmelden</button>" not in site.client.get(url).text


def test_the_scope_comes_from_the_token(site: Site) -> None:
    site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, BRAM, 'survey')}", data=ONE_CLICK)

    assert suppressions(site) == {(BRAM[0], "survey", "unsubscribed")}


def test_a_post_without_the_one_click_body_changes_nothing(site: Site) -> None:
    response = site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}", data={"anders": "iets"})

    assert response.status_code == 400
    assert "Uw afmelding is niet verwerkt" in response.text
    assert suppressions(site) == set()


def test_unsubscribing_keeps_a_hard_bounce(site: Site) -> None:
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "newsletter", HARD_BOUNCE, NOW)
    site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}", data=ONE_CLICK)

    assert suppressions(site) == {(ANNA[0], "newsletter", HARD_BOUNCE)}


BAD_TOKENS = [
    # (id, make the token, status, heading on the page)
    ("tampered", lambda s: tamper(s.token(Purpose.UNSUBSCRIBE)), 400, "Deze link werkt niet"),
    (
        "forged",
        lambda s: Signer("another-secret-key-that-is-long-enough-000").sign(
            Purpose.UNSUBSCRIBE, ANNA[1], "newsletter", NOW + timedelta(days=9)
        ),
        400,
        "Deze link werkt niet",
    ),
    ("garbage", lambda s: "niet-een-token", 400, "Deze link werkt niet"),
    ("truncated", lambda s: s.token(Purpose.UNSUBSCRIBE)[:-6], 400, "Deze link werkt niet"),
    ("three-parts", lambda s: s.token(Purpose.UNSUBSCRIBE) + ".x", 400, "Deze link werkt niet"),
    ("non-ascii", lambda s: "é." + s.token(Purpose.UNSUBSCRIBE).split(".")[1], 400, "Deze link werkt niet"),
    (
        "expired",
        lambda s: s.token(Purpose.UNSUBSCRIBE, expires_at=NOW - timedelta(seconds=1)),
        410,
        "Deze link is verlopen",
    ),
    (
        "expiring-now",
        lambda s: s.token(Purpose.UNSUBSCRIBE, expires_at=NOW),
        410,
        "Deze link is verlopen",
    ),
    (
        "preferences-token",
        lambda s: s.token(Purpose.PREFERENCES),
        403,
        "Deze link hoort bij een andere pagina",
    ),
    (
        "contact-gone",
        lambda s: s.token(Purpose.UNSUBSCRIBE, ("weg@example.org", "ffffffffffffffff")),
        404,
        "Dit adres staat niet in onze verzendlijsten",
    ),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("make", "status", "heading"), [t[1:] for t in BAD_TOKENS], ids=[t[0] for t in BAD_TOKENS]
)
def test_a_bad_token_gets_a_dutch_page_and_changes_nothing(
    site: Site, method: str, make, status: int, heading: str
) -> None:
    response = site.client.request(
        method, f"/afmelden/{make(site)}", data=ONE_CLICK if method == "POST" else None
    )

    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"<h1>{heading}</h1>" in response.text
    assert '<html lang="nl">' in response.text
    assert suppressions(site) == set()


def test_the_web_version_is_public_and_unknown_editions_get_a_dutch_404(site: Site) -> None:
    seed_ledger(site.service, html="<html><body><h1>Nieuws uit de provincies</h1></body></html>")

    found = site.client.get(f"/nieuwsbrief/{EDITION_KEY}")
    missing = site.client.get("/nieuwsbrief/nieuwsbrief-1999-01")
    odd = site.client.get("/nieuwsbrief/..%2Fcomms.toml")

    assert found.status_code == 200
    assert "Nieuws uit de provincies" in found.text
    assert found.headers["cache-control"].startswith("public")
    assert "'unsafe-inline'" in found.headers["content-security-policy"]  # MJML's inline styles
    assert missing.status_code == 404
    assert "<h1>Deze nieuwsbrief is niet gevonden</h1>" in missing.text
    assert odd.status_code == 404


def test_health_check_queries_the_database(site: Site) -> None:
    response = site.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "status", "content_type"),
    [
        ("GET", "/static/comms.css", 200, "text/css"),
        ("GET", "/healthz", 200, "application/json"),
        ("GET", "/bestaat-niet", 404, "text/html"),
        ("DELETE", "/afmelden/x", 405, "text/html"),
        ("GET", "/webhooks/sendgrid", 405, "application/json"),
        ("GET", "/docs", 404, "text/html"),
    ],
)
def test_every_response_carries_the_security_headers(
    site: Site, method: str, path: str, status: int, content_type: str
) -> None:
    # The client's response hook (conftest.check_response) checks the headers and cookies.
    response = site.client.request(method, path)

    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)


def test_pages_use_no_inline_script_or_style(site: Site) -> None:
    pages = [
        site.client.get(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}").text,
        site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}", data=ONE_CLICK).text,
        site.client.get(f"/voorkeuren/{site.token(Purpose.PREFERENCES)}").text,
        site.client.get("/afmelden/kapot").text,
    ]
    for page in pages:
        assert "<script" not in page
        assert "<style" not in page
        assert " style=" not in page
        assert '<link rel="stylesheet" href="/static/comms.css">' in page


def test_an_internal_error_gets_a_dutch_page_with_the_security_headers(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr("comms.operations.recipients.unsubscribe", broken)

    response = site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE)}", data=ONE_CLICK)

    assert response.status_code == 500
    assert "<h1>Er ging iets mis</h1>" in response.text
    assert "database on fire" not in response.text
    assert suppressions(site) == set()


# -- forward-safe mail: the owner is told, and can undo it -------------------------------------

DIGEST = "agenda-digest"  # forward-safe: its List-Unsubscribe travels with every forward
UNDO = {"formulier": "ongedaan"}


def undo_path(message: EmailMessage) -> str:
    found = re.search(r"https://comms\.ipo\.example\.org(/afmelding-ongedaan/\S+)", text_of(message))
    assert found is not None, text_of(message)
    return found.group(1)


def test_an_unsubscribe_from_forward_safe_mail_is_told_to_the_owner_who_can_undo_it(
    make_site: SiteFactory, smtp_server: FakeSMTPServer
) -> None:
    site = make_site(smtp=smtp_server)
    with site.service.db.session() as session:  # choices of her own, which the undo must keep
        suppress(session, ANNA[0], "newsletter", "unsubscribed", NOW)
        suppress(session, ANNA[0], "survey", "preference centre", NOW)
    before = suppressions(site)
    # Whoever reads the headers of a digest the griffie forwarded uses her one-click link.
    forwarded = f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, scope=DIGEST)}"

    assert site.client.post(forwarded, data=ONE_CLICK).status_code == 200  # RFC 8058 still works

    assert suppressions(site) == before | {(ANNA[0], DIGEST, "unsubscribed")}
    site.drain()
    [received] = smtp_server.messages
    notice = received.message
    assert received.rcpt_tos == (ANNA[0],)
    assert notice["Subject"] == "U bent afgemeld voor het wekelijkse agendaoverzicht voor griffies"
    assert "List-Unsubscribe" not in notice and "List-Id" not in notice
    text = " ".join(text_of(notice).split())  # the lines are wrapped
    assert "op dinsdag 1 december 2026 om 9.00 uur afgemeld voor het wekelijkse agendaoverzicht" in text
    assert "Wilt u het wekelijkse agendaoverzicht voor griffies blijven ontvangen?" in text
    assert "doorgestuurd" in text and "30 dagen" in text
    undo = undo_path(notice)

    page = site.client.get(undo)  # a mail scanner following the link changes nothing
    assert page.status_code == 200 and "<h1>Afmelding ongedaan maken</h1>" in page.text
    assert "a…@utrecht.example.org" in page.text and ANNA[0] not in page.text
    assert suppressions(site) == before | {(ANNA[0], DIGEST, "unsubscribed")}

    done = site.client.post(undo, data=UNDO)

    assert done.status_code == 200 and "<h1>U ontvangt het weer</h1>" in done.text
    assert suppressions(site) == before  # exactly that subscription, nothing else
    assert "<h1>U bent niet afgemeld</h1>" in site.client.get(undo).text
    site.drain()
    assert len(smtp_server.messages) == 1  # the undo mails nothing


def test_the_notice_goes_once_per_unsubscribe_and_not_for_other_kinds(
    make_site: SiteFactory, smtp_server: FakeSMTPServer
) -> None:
    site = make_site(smtp=smtp_server)
    digest = f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, scope=DIGEST)}"
    for _ in range(3):  # a repeated click cannot fill her inbox
        site.client.post(digest, data=ONE_CLICK)
    for kind in ("newsletter", "agenda-notice", "survey"):  # personal mail is not forwarded whole
        site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, BRAM, kind)}", data=ONE_CLICK)
    site.drain()
    assert [m.rcpt_tos for m in smtp_server.messages] == [(ANNA[0],)]

    site.client.post(undo_path(smtp_server.messages[0].message), data=UNDO)
    site.client.post(digest, data=ONE_CLICK)  # unsubscribed again: told again
    site.drain()
    assert [m.rcpt_tos for m in smtp_server.messages] == [(ANNA[0],), (ANNA[0],)]


def test_an_undo_keeps_a_bounce_that_came_after_the_unsubscribe(site: Site) -> None:
    site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, scope=DIGEST)}", data=ONE_CLICK)
    site.drain()
    [notice] = notices(site)
    with site.service.db.session() as session:
        suppress(session, ANNA[0], DIGEST, HARD_BOUNCE, NOW)

    response = site.client.post(undo_path(notice), data=UNDO)

    assert response.status_code == 200 and "<h1>U ontvangt het nog niet</h1>" in response.text
    assert suppressions(site) == {(ANNA[0], DIGEST, HARD_BOUNCE)}


def test_no_notice_to_an_address_that_bounced(site: Site) -> None:
    with site.service.db.session() as session:
        suppress(session, ANNA[0], "*", HARD_BOUNCE, NOW)

    site.client.post(f"/afmelden/{site.token(Purpose.UNSUBSCRIBE, scope=DIGEST)}", data=ONE_CLICK)

    site.drain()
    assert notices(site) == []


@pytest.mark.parametrize(
    ("token", "send", "status"),
    [
        pytest.param("restore", {}, 400, id="empty-post"),
        pytest.param("restore", {"data": ONE_CLICK}, 400, id="another-form"),
        pytest.param("expired", {"data": UNDO}, 410, id="expired"),
        pytest.param("unsubscribe", {"data": UNDO}, 403, id="an-unsubscribe-token"),
        pytest.param("preferences", {"data": UNDO}, 403, id="a-preference-token"),
    ],
)
def test_an_undo_needs_its_own_live_token_and_its_form(
    site: Site, token: str, send: dict, status: int
) -> None:
    with site.service.db.session() as session:
        suppress(session, ANNA[0], DIGEST, "unsubscribed", NOW)
    purpose, expires = {
        "restore": (Purpose.RESTORE, NOW + timedelta(days=30)),
        "expired": (Purpose.RESTORE, NOW),
        "unsubscribe": (Purpose.UNSUBSCRIBE, None),
        "preferences": (Purpose.PREFERENCES, None),
    }[token]

    response = site.client.post(
        f"/afmelding-ongedaan/{site.token(purpose, scope=DIGEST, expires_at=expires)}", **send
    )

    assert response.status_code == status
    assert suppressions(site) == {(ANNA[0], DIGEST, "unsubscribed")}
    # and a restore token does not unsubscribe
    assert site.client.post(f"/afmelden/{site.token(Purpose.RESTORE)}", data=ONE_CLICK).status_code == 403
