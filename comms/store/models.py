"""Tables. The schema itself is created by the Alembic migrations beside this file."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from comms.reasons import Reason


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class EditionStatus(StrEnum):
    DRAFT = "draft"  # built, waiting for approval
    APPROVED = "approved"
    SENDING = "sending"  # recipients snapshotted into the message ledger
    SENT = "sent"  # no message pending or claimed
    HELD = "held"  # not sendable as it stands (e.g. nothing new); says why
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """What the team reads: 'concept', 'goedgekeurd', 'wordt verstuurd', …"""
        return _STATUS_LABELS[self]

    @property
    def is_finished(self) -> bool:
        """Nothing more happens to it: sent, or discarded."""
        return self in (EditionStatus.SENT, EditionStatus.CANCELLED)


_STATUS_LABELS = {
    EditionStatus.DRAFT: "concept",
    EditionStatus.APPROVED: "goedgekeurd",
    EditionStatus.SENDING: "wordt verstuurd",
    EditionStatus.SENT: "verstuurd",
    EditionStatus.HELD: "aangehouden",
    EditionStatus.CANCELLED: "vervallen",
}


class MessageStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # taken by a worker, not yet acknowledged
    SENT = "sent"
    FAILED = "failed"  # retry_at set: transient, will be tried again; else permanent
    # Handed over without a verdict (no reply to SMTP's final dot): perhaps delivered. retry_at
    # set: sent once more then, after a long delay; else settled, never sent again.
    UNCERTAIN = "uncertain"
    SUPPRESSED = "suppressed"  # unsubscribed or bounced: recorded, never sent


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # goes into tokens and ids
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str] = mapped_column(String(200))
    infix: Mapped[str] = mapped_column(String(50), default="")
    last_name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(50), index=True)
    party: Mapped[str | None] = mapped_column(String(100))
    # ",statenlid,av-lid,": delimited so one LIKE works on SQLite and PostgreSQL alike
    roles: Mapped[str] = mapped_column(String(300))
    themes: Mapped[str] = mapped_column(String(300), default=",")
    # Seats in IPO bodies: ",bac-landelijk-gebied:lid,ipo-bestuur:plaatsvervanger,"
    bodies: Mapped[str] = mapped_column(String(500), default=",")
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: gone from the exports
    source_file: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Suppression(Base):
    """An address that must not receive mail of a kind ('*' is every kind)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("email", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    scope: Mapped[str] = mapped_column(String(50), default="*")
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SourceState(Base):
    """Conditional-GET validators and the last outcome, per configured source."""

    __tablename__ = "source_states"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)


class Edition(Base):
    __tablename__ = "editions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)  # "nieuwsbrief-2026-12"
    kind: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(300))
    audience: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=EditionStatus.DRAFT)
    status_reason: Mapped[str | None] = mapped_column(Text)  # English, for the operator
    status_reason_nl: Mapped[str | None] = mapped_column(Text)  # the same in Dutch, for the team
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200))
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when a schedule built it: which one, and the planned send it is for.
    schedule: Mapped[str | None] = mapped_column(String(100))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text, default="{}")  # JSON: counts per section
    # Compiled once per edition; optional blocks (AV, province, theme sections) are cut
    # per recipient, personal values filled in (render.personalise).
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    # The current revision (EditionRevision.number) and who built it (a username or "schema:<name>").
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    built_by: Mapped[str | None] = mapped_column(String(200))
    # The editor's introduction as edited in the console (Markdown); None: the content file's.
    introduction: Mapped[str | None] = mapped_column(Text)
    # While a started edition's audience is being copied into the message ledger, in contact id
    # order and committed batch by batch: the highest contact id done (0: none yet). None once
    # the ledger is complete, and before sending starts. Workers claim nothing until then.
    ledger_through: Mapped[int | None] = mapped_column(Integer)

    @property
    def is_being_prepared(self) -> bool:
        """Sending, but its audience is not yet all in the message ledger."""
        return self.status == EditionStatus.SENDING and self.ledger_through is not None

    @property
    def reason(self) -> Reason | None:
        """Why it is held or cancelled (an edition from before Dutch reasons: English twice)."""
        if self.status_reason is None:
            return None
        return Reason(self.status_reason, self.status_reason_nl or self.status_reason)

    def set_status(self, status: EditionStatus, reason: Reason | None = None) -> None:
        """Change the status, with the reason for it (none: a reason it had no longer holds)."""
        self.status = status
        self.status_reason = reason.en if reason else None
        self.status_reason_nl = reason.nl if reason else None


class Item(Base):
    """The item ledger: every collected entry, and the edition it went into."""

    __tablename__ = "items"
    __table_args__ = (Index("ix_items_unassigned", "edition_id", "published_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(500), unique=True)
    source: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    guid: Mapped[str | None] = mapped_column(String(500))
    link: Mapped[str | None] = mapped_column(String(2000), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(500))
    summary_html: Mapped[str] = mapped_column(Text)
    categories: Mapped[str] = mapped_column(Text, default="")  # joined by "|"
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())  # or first seen
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str | None] = mapped_column(String(500))
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id"))


class Message(Base):
    """The message ledger: one row per edition × contact, whatever happens to it."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("edition_id", "contact_id"),
        # The claim's two lookups (deliver.queue): pending messages in id order, and retries
        # (failed, uncertain) by the time they are due; the second index holds only those.
        # The first also serves counts by status (it replaced (edition_id, status, variant):
        # one index fewer to write for each of a million rows a snapshot inserts).
        Index("ix_messages_due", "edition_id", "status", "id"),
        Index(
            "ix_messages_retry",
            "edition_id",
            "retry_at",
            sqlite_where=text("retry_at IS NOT NULL"),
            postgresql_where=text("retry_at IS NOT NULL"),
        ),
        # /metrics' send rate (sent in the last five minutes). Partial: a snapshot inserts rows
        # that are not sent yet, and those would be a million index entries to write for nothing.
        Index(
            "ix_messages_sent_at",
            "sent_at",
            sqlite_where=text("sent_at IS NOT NULL"),
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    variant: Mapped[str] = mapped_column(String(300), default="")  # the blocks it got
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    # When its fate first became uncertain: a message is resent for that reason once only.
    uncertain_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the provider told us afterwards (SendGrid's event webhook).
    last_event: Mapped[str | None] = mapped_column(String(30))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Preference(Base):
    """A recipient's own choices; keyed by address so a re-import never undoes them.

    Opting out of a mailing kind is a Suppression with that kind as scope.
    """

    __tablename__ = "preferences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    themes: Mapped[str | None] = mapped_column(String(300))  # ",a,b,"; None: every theme
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeliveryEvent(Base):
    """Each provider event once (webhooks are retried and may repeat)."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # /metrics' webhook lag
    detail: Mapped[str | None] = mapped_column(Text)


class JobRunOutcome(StrEnum):
    RUNNING = "running"  # started; a runner that died leaves it so, and the next leader finishes it
    DONE = "done"
    HELD = "held"  # ran, but its mailing was held (not approved, nothing new): the team was told
    MISSED = "missed"  # too late (beyond the schedule's staleness limit): reported, not run
    FAILED = "failed"
    # Cut short by the database going away: tried again at `retry_at` by whichever process
    # leads then, until the schedule's staleness limit (then `failed`, and the team is told).
    RETRYING = "retrying"


class JobRun(Base):
    """Each planned run of a scheduled job, once: the scheduler's own ledger.

    The unique (schedule, step, planned_for) is what keeps a job from firing twice when
    a standby takes over, whatever APScheduler's job store had recorded at the time.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("schedule", "step", "planned_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100))
    step: Mapped[str] = mapped_column(String(30))  # build | send | approval-deadline
    planned_for: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(20), default=JobRunOutcome.RUNNING)
    detail: Mapped[str | None] = mapped_column(Text)
    runner: Mapped[str] = mapped_column(String(200))  # host:pid
    edition_key: Mapped[str | None] = mapped_column(String(100))
    # Renewed by the runner while the step runs: a run left `running` with an old heartbeat
    # (or whose runner's process is gone from this host) is taken over by the next leader.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SchedulerJob(Base):
    """APScheduler 3's SQLAlchemyJobStore table, declared here so Alembic owns the schema."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class MeetingRecord(Base):
    """The meeting ledger: each IPO meeting once, with the version of its agenda.

    `version` goes up whenever the content hash changes (time, place, status, agenda);
    a notice is sent per version, so an unchanged agenda is never announced twice.
    """

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(300), unique=True)
    body: Mapped[str] = mapped_column(String(100), index=True)  # a domain.BODIES id
    title: Mapped[str] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    location: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # planned | changed | cancelled
    url: Mapped[str | None] = mapped_column(String(2000))
    source: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[str] = mapped_column(Text)  # JSON: the whole meeting with its agenda items
    changes: Mapped[str] = mapped_column(Text, default="[]")  # JSON: what changed since the last version
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when a feed that was read in full no longer lists the meeting; cleared when it returns.
    missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Survey(Base):
    """One round of a survey ("2026-H2"): started once, from a snapshot of its definition."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))  # the definition file's stem
    title: Mapped[str] = mapped_column(String(300))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    definition: Mapped[str] = mapped_column(Text)  # JSON snapshot: the round keeps its questions


class SurveyInvitation(Base):
    """Who was invited, and whether they answered: completion is tracked per invitee even in
    an anonymous round, for the reminders and the response rate; the answers are not here."""

    __tablename__ = "survey_invitations"
    __table_args__ = (UniqueConstraint("survey_id", "contact_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    role: Mapped[str | None] = mapped_column(String(50))  # at invitation time, for the response rate
    province: Mapped[str | None] = mapped_column(String(50))
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Only in a round that is not anonymous: an exact time would link the answers to a person.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # In the published results (response rates): set for a whole batch when the pool is written,
    # so the results page moves in steps of at least min_group_size (comms/survey/pool.py).
    counted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SurveyDraft(Base):
    """Answers saved so far, until submitted (then deleted: the response holds them)."""

    __tablename__ = "survey_drafts"

    invitation_id: Mapped[int] = mapped_column(ForeignKey("survey_invitations.id"), primary_key=True)
    answers: Mapped[str] = mapped_column(Text)  # JSON {question id: value}
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SurveyPoolEntry(Base):
    """An anonymous response waiting to be written (comms/survey/pool.py): sealed with a key
    derived from COMMS_SECRET_KEY, so whoever reads the database cannot read it; no time, no
    invitation, a random id. Deleted when its batch is written."""

    __tablename__ = "survey_pool"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, uuid4 hex
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # nonce + AES-GCM of {answers, role, province}


class SurveyResponse(Base):
    """One submitted response. In an anonymous round nothing here points to a person: a random
    id (no sequence that follows the order of submission), no invitation, no time of day; it
    is written in a batch of at least min_group_size, in the order of the random ids, and its
    role and province are "overig" unless at least min_group_size of its batch share them."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, uuid4 hex
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(50))  # for results per group (min size applies)
    province: Mapped[str | None] = mapped_column(String(50))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitations.id"))  # not anonymous
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # not anonymous
    answers: Mapped[str] = mapped_column(Text)  # JSON {question id: value}


class TeamRole(StrEnum):
    """What a member of the communications team may do in the console; each includes the one before."""

    EDITOR = "editor"  # build, edit the introduction, test-send, hold
    APPROVER = "approver"  # also approve, discard and send early
    ADMIN = "admin"  # also lift suppressions and manage accounts

    def includes(self, needed: TeamRole) -> bool:
        """Whether this role may do what `needed` may: each role includes the ones before it."""
        order = list(TeamRole)
        return order.index(self) >= order.index(needed)

    @property
    def label(self) -> str:
        """Dutch, as the console and the audit log name it: "goedkeurder"."""
        return {"editor": "redacteur", "approver": "goedkeurder", "admin": "beheerder"}[self.value]


class TeamMember(Base):
    """An account of the communications team's console (created with `comms user add`)."""

    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))  # shown in the audit log: "Fenna de Wit"
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))  # a TeamRole
    password_hash: Mapped[str] = mapped_column(String(200))  # Argon2id, PHC string
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Who did what, when, to which edition: written in the same transaction as the change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))  # a team member's username, or "schema:<name>"
    action: Mapped[str] = mapped_column(String(50))  # an AuditAction value
    edition_key: Mapped[str | None] = mapped_column(String(100), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")  # Dutch, for the team; no recipient data


class EditionRevision(Base):
    """Every build of an edition, kept: what was approved is always what can be shown again."""

    __tablename__ = "edition_revisions"
    __table_args__ = (UniqueConstraint("edition_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per edition
    subject: Mapped[str] = mapped_column(String(300))
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="{}")
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    built_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200))
