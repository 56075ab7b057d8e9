"""Copies that are not a recipient's: previews for the team and marked test copies ("proofs").

A test copy is marked in the subject ("[TEST] ") and by a notice at the top of both bodies,
shows every optional block (every variant visible), carries placeholder personal values,
and its unsubscribe links do not unsubscribe anyone.
"""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import datetime

from comms.render.message import Mailing, MailingIdentity, Recipient
from comms.render.templates import Rendered
from comms.render.wrap import wrap_paragraph
from comms.tokens import Signer

# Sample personal values: a preview shows where they go without showing anyone's.
PREVIEW_VALUES = {
    "first_name": "[voornaam]",
    "name": "[naam]",
    "email": "[e-mailadres]",
    "unsubscribe_url": "#afmelden",
    "preferences_url": "#voorkeuren",
    "survey_url": "#enquete",
}
SUBJECT_PREFIX = "[TEST] "
KEY_SUFFIX = "-test"
_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def proof_key(key: str) -> str:
    return key + KEY_SUFFIX


def proof_identity(real: MailingIdentity) -> MailingIdentity:
    """Its own key (outbox folder, Message-IDs: a mail system never takes the real message for a
    copy it already has) and a marked subject. Not bulk: a test copy goes to a few named
    addresses, and has no List-Id or List-Unsubscribe (it has no unsubscribe link that works)."""
    return dataclasses.replace(
        real, edition_key=proof_key(real.edition_key), subject=SUBJECT_PREFIX + real.subject, bulk=False
    )


def proof_rendered(html_body: str, text_body: str, notice: str) -> Rendered:
    """The edition's own output with the test notice on top of both parts."""
    return Rendered(_into_html(html_body, notice), f"{wrap_paragraph(notice)}\n\n{text_body}")


def proof_notice(key: str, subject: str, status: str) -> str:
    # "@@" would read as a personalisation marker in the compiled output.
    subject = subject.replace("@@", "@")
    return (
        f"TESTVERSIE – Dit is een testversie van „{subject}” (editie {key}, status: {status}) "
        "en is niet verstuurd aan de ontvangers. Alle optionele blokken staan erin; naam, "
        "e-mailadres en links zijn voorbeelden."
    )


def _into_html(page: str, notice: str) -> str:
    box = (
        '<div role="note" style="background:#fff3cd;border:2px solid #b38600;color:#1a1a1a;'
        "padding:12px 16px;margin:0 0 16px;font-family:Arial,sans-serif;font-size:15px;"
        f'line-height:1.4"><strong>{html.escape(notice)}</strong></div>'
    )
    tag = _BODY_TAG.search(page)
    at = tag.end() if tag else 0
    return page[:at] + box + page[at:]


class ProofMailing(Mailing):
    """A Mailing whose personal values are placeholders and whose links act for nobody."""

    def __init__(self, identity: MailingIdentity, rendered: Rendered, signer: Signer, now: datetime):
        super().__init__(identity, rendered, signer, now)
        base, domain = identity.base_url, identity.sender.domain
        # Not signed tokens: the web app refuses them, so nobody is unsubscribed by a click.
        self._proof_links = {
            "unsubscribe_url": f"{base}/afmelden/testversie",
            "preferences_url": f"{base}/voorkeuren/testversie",
            "unsubscribe_mailto": f"mailto:afmelden@{domain}?subject=afmelden%20testversie",
        }

    def links(self, recipient: Recipient) -> dict[str, str]:
        return dict(self._proof_links)

    def values(self, recipient: Recipient, links: dict[str, str] | None = None) -> dict[str, str]:
        return dict(PREVIEW_VALUES)
