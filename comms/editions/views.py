"""How the team and the public see editions: previews, the web version and the public archive of
sent editions (status with counts: comms.editions.status)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from comms import kinds
from comms.audience.profile import Profile, themes_read
from comms.dates import local, long_date
from comms.deliver import queue
from comms.editions.delivery import mailing_for
from comms.editions.status import status as status  # where the tests and jobs have long found it
from comms.problems import Problem, ValidationFailed
from comms.render.personalise import Personaliser
from comms.render.proof import PREVIEW_VALUES
from comms.render.templates import Rendered
from comms.render.web_page import as_web_page
from comms.service import Service
from comms.store.editions import edition_or_none, find_edition
from comms.store.models import Contact, Edition, EditionStatus, Preference


def planned_for(service: Service, schedule: str, send_at: datetime) -> str | None:
    """The edition a schedule built for this send, if any."""
    with service.db.session() as session:
        query = select(Edition.key).where(Edition.schedule == schedule, Edition.send_at == send_at)
        return session.scalars(query).first()


def preview(service: Service, key: str, contact_email: str | None) -> tuple[str, str]:
    """(html, text): every block with sample values, or one contact's own copy."""
    with service.db.session() as session:
        edition = find_edition(session, key)
        if not edition.html or not edition.text:
            why = edition.status_reason or "not rendered"
            raise ValidationFailed(
                [Problem(key, f"nothing to preview: the edition is {edition.status} ({why})")]
            )
        rendered = Rendered(edition.html, edition.text)
        if contact_email is None:
            return _fill(rendered, PREVIEW_VALUES, None)
        row = session.execute(
            select(Contact, themes_read())
            .outerjoin(Preference, Preference.email == Contact.email)
            .where(Contact.email == contact_email.strip().lower())
        ).first()
        if row is None:
            raise ValidationFailed([Problem(key, f"no contact with address {contact_email!r}")])
        contact, themes = row
        mailing = mailing_for(service, edition, service.signer(), datetime.now(UTC))
        recipient = queue.recipient(0, contact)
        blocks = kinds.find(edition.kind).blocks(
            Profile.from_columns(contact.province, contact.roles, themes)
        )
        return _fill(rendered, mailing.values(recipient), blocks)


def web_version(service: Service, key: str) -> str | None:
    """A sent edition as a public page: no personal values, no blocks for some readers only."""
    with service.db.session() as session:
        edition = edition_or_none(session, key)
        if edition is None or edition.status != EditionStatus.SENT or not edition.html:
            return None
        kind = kinds.find(edition.kind)
        if not kind.has_web_version:
            return None
        # Its reader is anyone: the mail's personal links lead to the page where a reader asks
        # for a link to their own preferences (and unsubscribes there), not to a dead "#afmelden".
        public = f"{service.config.web_base_url.rstrip('/')}/voorkeuren"
        values = PREVIEW_VALUES | {
            "first_name": "lezer",
            "name": "lezer",
            "email": "",
            "unsubscribe_url": public,
            "preferences_url": public,
        }
        return as_web_page(Personaliser.cut(edition.html, is_html=True).fill(values, kind.public_blocks()))


@dataclass(frozen=True, slots=True)
class Published:
    """A sent edition in the public archive: nothing about who received it."""

    key: str
    subject: str
    kind_label: str
    sent_at: datetime  # aware UTC

    @property
    def year(self) -> int:
        return local(self.sent_at).year

    @property
    def sent_on(self) -> str:
        """'dinsdag 1 december 2026'."""
        return long_date(self.sent_at)

    @property
    def sent_day(self) -> str:
        """The local date for <time datetime>: '2026-12-01'."""
        return local(self.sent_at).date().isoformat()


def published(service: Service) -> list[Published]:
    """Every sent edition with a public web version (`web_version`), newest first."""
    public = {k.key: k.label for k in kinds.every() if k.has_web_version}
    sent = func.coalesce(Edition.sent_at, Edition.sending_at, Edition.built_at)
    with service.db.session() as session:
        rows = session.execute(
            select(Edition.key, Edition.subject, Edition.kind, sent)
            .where(Edition.status == EditionStatus.SENT, Edition.kind.in_(public), Edition.html.is_not(None))
            .order_by(sent.desc(), Edition.id.desc())
        ).all()
    return [Published(key, subject, public[kind], at) for key, subject, kind, at in rows]


def _fill(rendered: Rendered, values: dict[str, str], blocks: frozenset[str] | None) -> tuple[str, str]:
    html = Personaliser.cut(rendered.html, is_html=True).fill(values, blocks)
    return html, Personaliser.cut(rendered.text, is_html=False).fill(values, blocks)
