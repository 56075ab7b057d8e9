"""One edition as its page in the console shows it: state, planned time, what is needed, its
revisions, and which of the team's actions its state allows.

The actions themselves are the workflow's (comms.operations.editions), which checks again;
these properties only decide which forms the page offers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from comms import kinds
from comms.dutch import LOCAL_TIME, moment
from comms.kinds import MailingKind
from comms.operations import editions, workflow
from comms.operations.calendar import MailingState, Need, need_for
from comms.operations.editions import RevisionView
from comms.reasons import Reason
from comms.service import Service
from comms.store.editions import find_edition
from comms.store.models import EditionStatus


@dataclass(frozen=True)
class EditionOverview:
    key: str
    kind: MailingKind
    subject: str
    state: MailingState
    reason: Reason | None  # why it is held or cancelled; the page shows `.nl`
    send_at: datetime | None
    approval_due: datetime | None
    built_at: datetime
    built_by: str | None
    approved_at: datetime | None
    approved_by: str | None
    revision: int
    revisions: tuple[RevisionView, ...]
    introduction: str | None  # the Markdown an editor starts from; None: the kind has none to edit
    has_content: bool  # rendered: there is something to preview and test-send
    now: datetime

    @property
    def need(self) -> Need:
        return need_for(self.state, self.approval_due, self.now)

    @property
    def when(self) -> str:
        return f"{moment(self.send_at)} ({LOCAL_TIME})" if self.send_at else "nog geen verzendtijd gepland"

    @property
    def may_approve(self) -> bool:
        return self.state is MailingState.DRAFT and self.has_content

    @property
    def may_hold(self) -> bool:
        return self.state in (MailingState.DRAFT, MailingState.APPROVED)

    @property
    def may_discard(self) -> bool:
        return self.state in (MailingState.DRAFT, MailingState.APPROVED, MailingState.HELD)

    @property
    def may_send_early(self) -> bool:
        """Approved and not started: before its planned time, or after a send step that could not
        start it (outside the send window)."""
        return self.state is MailingState.APPROVED

    @property
    def may_test_send(self) -> bool:
        return self.has_content and self.state is not MailingState.CANCELLED

    @property
    def may_edit(self) -> bool:
        """A new revision can still be made: nothing of it has gone out."""
        return self.state in (MailingState.DRAFT, MailingState.APPROVED, MailingState.HELD)

    @property
    def may_edit_introduction(self) -> bool:
        return self.introduction is not None and self.may_edit

    @property
    def has_started(self) -> bool:
        return self.state in (MailingState.SENDING, MailingState.SENT)


def overview(service: Service, key: str, now: datetime) -> EditionOverview:
    with service.db.session() as session:
        edition = find_edition(session, key)
        kind = kinds.find(edition.kind)
        schedule = workflow.schedule_of(service, edition, now)
        due = schedule.approval_due(edition.send_at) if schedule and edition.send_at else edition.send_at
        found = EditionOverview(
            edition.key,
            kind,
            edition.subject,
            MailingState(EditionStatus(edition.status).value),
            edition.reason,
            edition.send_at,
            due,
            edition.built_at,
            edition.built_by,
            edition.approved_at,
            edition.approved_by,
            edition.revision,
            (),
            kind.introduction(service, edition) if kind.edits_introduction else None,
            bool(edition.html and edition.text),
            now,
        )
    return dataclasses.replace(found, revisions=tuple(editions.revisions(service, key)))
