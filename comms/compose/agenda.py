"""Agenda notices and the weekly agenda digest, from the meeting ledger.

A notice is one edition per meeting version and province: its key names both, so an
agenda version is announced to a province once, whatever runs again. What it is:
- the first notice a province gets of a meeting: the agenda, planned before the agenda
  of that province's last GS meeting ahead of the IPO meeting closes (compose.agenda_plan);
  urgent, at once, when that deadline has passed;
- an update, when a later version arrives after a notice went out: what changed, at once;
  a version that was not sent yet is superseded (cancelled) by the newer one;
- a move ("verplaatst van … naar …"), when the meeting moved to another day after a notice
  went out: at once, with the same .ics UID and a higher SEQUENCE, so calendars move it too;
- a cancellation, when the meeting is cancelled after a notice went out (never otherwise:
  nobody needs to hear that a meeting they never heard of is off).

A meeting is known by its uid (the feed's guid or UID), not its date: the key holds the date
of the version it announces, for the reader, but earlier notices of a meeting are found by
uid and province, so a notice not yet sent for the old date is superseded by the new one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from comms.audience.gs_calendar import GsCalendar
from comms.audience.resolve import SegmentSource, seat_clause
from comms.collect.meetings.changes import START_CHANGED, is_moved, moved_sentence
from comms.collect.meetings.model import Meeting
from comms.compose.agenda_plan import NoticePlan, plan_notice
from comms.dates import local, local_text, long_date, time_of_day
from comms.domain import BODIES, PROVINCES
from comms.problems import Problem
from comms.reasons import Reason
from comms.store.models import Contact, Edition, EditionStatus, MeetingRecord

IN_COPY_BLOCK = "in-kopie"
SUPERSEDED = Reason(
    "superseded by a newer agenda version", "vervangen door een nieuwere versie van de agenda"
)
NoticeKind = Literal["notice", "update", "moved", "cancellation"]


# -- who gets a notice ----------------------------------------------------------------------


def notice_audience(province_slug: str, body_id: str) -> ColumnElement[bool]:
    """GS members of the province, its member and substitute in the body, and its KPS (in copy)."""
    province = next(p for p in PROVINCES if p.slug == province_slug)
    return and_(Contact.province == province.name, _told_of(body_id))


def notice_reach() -> ColumnElement[bool]:
    """Everyone some notice can reach: `notice_audience` of any province and any body."""
    return and_(Contact.province.in_([p.name for p in PROVINCES]), _told_of(*(b.id for b in BODIES)))


def _told_of(*body_ids: str) -> ColumnElement[bool]:
    """Whom a province tells of a body's agenda: its GS, its KPS (in copy), and its seats in the body."""
    roles = (Contact.roles.like("%,gedeputeerde,%"), Contact.roles.like("%,kps,%"))
    return or_(*roles, *(seat_clause(body_id) for body_id in body_ids))


@dataclass(frozen=True, slots=True)
class NoticeAudience:
    """One province's GS for one IPO body, stored as "agenda:<province slug>:<body id>"."""

    province_slug: str
    body_id: str

    PREFIX = "agenda:"

    @classmethod
    def parse(cls, stored: str) -> NoticeAudience:
        prefix, _, rest = stored.partition(":")
        province, _, body = rest.partition(":")
        if f"{prefix}:" != cls.PREFIX or not province or not body:
            raise ValueError(f"not an agenda notice audience: {stored!r}")
        return cls(province, body)

    @classmethod
    def of(cls, notice: PlannedNotice) -> NoticeAudience:
        slug = next(p.slug for p in PROVINCES if p.name == notice.province)
        return cls(slug, notice.meeting.body)

    @property
    def stored(self) -> str:
        return f"{self.PREFIX}{self.province_slug}:{self.body_id}"

    @property
    def label(self) -> str:
        province = next((p.name for p in PROVINCES if p.slug == self.province_slug), self.province_slug)
        body = next((b.name for b in BODIES if b.id == self.body_id), self.body_id)
        return f"GS van {province} (agenda {body})"

    def clause(self, segments: SegmentSource) -> ColumnElement[bool]:
        return notice_audience(self.province_slug, self.body_id)


# -- planning -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedNotice:
    meeting: Meeting
    version: int
    province: str  # the province's name
    kind: NoticeKind
    plan: NoticePlan | None  # None for updates, moves and cancellations: they go at once
    changes: tuple[str, ...] = ()
    moved_from: Meeting | None = None  # a move: the meeting as the province last heard of it

    @property
    def key(self) -> str:
        return notice_key(self.meeting, self.version, self.province)

    @property
    def is_urgent(self) -> bool:
        return bool(self.plan and self.plan.is_urgent)


def notice_key(meeting: Meeting, version: int, province: str) -> str:
    """'agenda-<body>-<date of this version>-<uid hash>-<province>-v<version>'."""
    day = local(meeting.starts_at)
    return f"agenda-{meeting.body}-{day:%Y%m%d}-{_uid_hash(meeting.uid)}-{_slug(province)}-v{version}"


def _uid_hash(uid: str) -> str:
    return hashlib.sha256(uid.encode()).hexdigest()[:6]


def _slug(province: str) -> str:
    return next(p.slug for p in PROVINCES if p.name == province)


def notices_of(session: Session, kind: str, uid: str, province: str | None = None) -> list[Edition]:
    """Every notice edition of the meeting (for one province, or all), whatever date its key holds.

    The key narrows it down (its uid hash and province); the summary settles it, since six
    hex digits of a hash may be shared by two meetings.
    """
    slug = _slug(province) if province else "%"
    pattern = f"agenda-%-{_uid_hash(uid)}-{slug}-v%"
    found = session.scalars(
        select(Edition).where(Edition.kind == kind, Edition.key.like(pattern)).order_by(Edition.id)
    ).all()
    about = [(edition, _announced(edition)) for edition in found]
    return [e for e, (its_uid, its_province) in about if its_uid == uid and province in (None, its_province)]


def _announced(edition: Edition) -> tuple[str, str]:
    """The uid and province a notice edition is about, from its summary; ("", "") if unreadable."""
    try:
        summary = json.loads(edition.summary)
        return json.loads(summary["meeting"])["uid"], summary["province"]
    except (ValueError, KeyError, TypeError):
        return "", ""


@dataclass
class AgendaPlan:
    notices: list[PlannedNotice] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # unsent editions of an older version
    problems: list[Problem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # meetings gone from their feed: nothing planned


def plan_notices(
    session: Session, calendar: GsCalendar, calendar_file: Path, now: datetime, kind: str
) -> AgendaPlan:
    """Every notice (editions of `kind`) that should exist now and does not yet, per meeting
    version and province."""
    result = AgendaPlan()
    meetings = session.scalars(select(MeetingRecord).where(MeetingRecord.starts_at > now)).all()
    for record in sorted(meetings, key=lambda m: (m.starts_at, m.uid)):
        meeting = Meeting.from_json(record.data)
        if record.missing_since is not None:  # the team decides (operations.agenda.settle_missing)
            result.missing.append(
                f"{meeting.body_name}, {long_date(meeting.starts_at)}: no longer in its feed "
                f"({meeting.source}) since {local_text(record.missing_since)}; no notice is planned or "
                "sent, its unsent ones are held, the team was told"
            )
            continue
        for province in PROVINCES:
            _plan_one(
                session, result, kind, meeting, record.version, province.name, calendar, calendar_file, now
            )
    return result


def _plan_one(
    session: Session,
    result: AgendaPlan,
    kind: str,
    meeting: Meeting,
    version: int,
    province: str,
    calendar: GsCalendar,
    calendar_file: Path,
    now: datetime,
) -> None:
    key = notice_key(meeting, version, province)
    earlier = notices_of(session, kind, meeting.uid, province)
    if any(e.key == key for e in earlier):
        return  # this version is announced (or planned) already
    sent = [e for e in earlier if e.status in (EditionStatus.SENDING, EditionStatus.SENT)]
    result.superseded += [e.key for e in earlier if e.status in (EditionStatus.DRAFT, EditionStatus.APPROVED)]
    if meeting.is_cancelled:
        if sent:
            result.notices.append(PlannedNotice(meeting, version, province, "cancellation", None))
        return
    if sent:
        last = max(sent, key=lambda e: e.id)
        previous = Meeting.from_json(json.loads(last.summary)["meeting"])
        changes = tuple(meeting.changes_from(previous))
        if is_moved(previous, meeting):  # the lead says it; the rest of what changed follows
            others = tuple(c for c in changes if not c.startswith(START_CHANGED))
            result.notices.append(
                PlannedNotice(meeting, version, province, "moved", None, others, moved_from=previous)
            )
            return
        result.notices.append(PlannedNotice(meeting, version, province, "update", None, changes))
        return
    plan = plan_notice(province, meeting.starts_at, calendar, now)
    if isinstance(plan, Problem):
        result.problems.append(
            Problem(
                str(calendar_file),
                f"no notice for {meeting.body_name} of {long_date(meeting.starts_at)}: {plan.reason}",
                subject=province,
            )
        )
        return
    result.notices.append(PlannedNotice(meeting, version, province, "notice", plan))


# -- what a notice says ----------------------------------------------------------------------


def notice_context(notice: PlannedNotice) -> dict[str, object]:
    meeting = notice.meeting
    body = meeting.body_name
    subject = notice_subject(notice)
    plan = notice.plan
    gs = plan.gs_meeting if plan else None
    lead = {
        "notice": (
            f"Het IPO heeft de agenda gepubliceerd van de vergadering van {_with_article(body)} op "
            f"{long_date(meeting.starts_at)}. "
            + (
                ""  # the urgent banner says which GS meeting is missed and what now
                if notice.is_urgent
                else f"Bespreek deze agenda in de GS-vergadering van {long_date(gs.at)}; de GS-agenda sluit "
                f"{long_date(gs.agenda_closes_at)} om {time_of_day(gs.agenda_closes_at)}."
                if gs
                else "Er is geen GS-vergadering meer vóór deze IPO-vergadering."
            )
        ),
        "update": f"De agenda van {_with_article(body)} voor {long_date(meeting.starts_at)} is gewijzigd.",
        "moved": f"De vergadering van {_with_article(body)} is {_moved(notice)}.",
        "cancellation": f"De vergadering van {_with_article(body)} op {long_date(meeting.starts_at)} "
        "gaat niet door.",
    }[notice.kind]
    return {
        "notice": meeting_fields(meeting)
        | {
            "subject": subject,
            "heading": subject,
            "kind": notice.kind,
            "body_name": body,
            "changes": notice.changes,
            "province": notice.province,
            "is_urgent": notice.is_urgent,
            "is_cancelled": notice.kind == "cancellation",
            "urgent_text": _urgent_text(plan) if plan and plan.is_urgent else "",
            "lead_text": lead,
        }
    }


def meeting_fields(meeting: Meeting) -> dict[str, object]:
    """A meeting as the notice and digest templates see it."""
    return {
        "title": meeting.title,
        "starts_at": meeting.starts_at,
        "time_text": time_text(meeting),
        "location": meeting.location,
        "url": meeting.url,
        "agenda": meeting.items,
        "is_cancelled": meeting.is_cancelled,
    }


def notice_subject(notice: PlannedNotice) -> str:
    meeting = notice.meeting
    body = meeting.body_name
    what = f"{body}, {long_date(meeting.starts_at)} – voor GS {notice.province}"
    prefix = {
        "notice": "Agenda ",
        "update": "Gewijzigde agenda: ",
        "moved": "Verplaatst: ",
        "cancellation": "Geannuleerd: ",
    }
    urgent = "Spoed: " if notice.is_urgent else ""
    return f"{urgent}{prefix[notice.kind]}{what}"


def _urgent_text(plan: NoticePlan) -> str:
    missed = plan.missed
    text = "Deze agenda is te laat gepubliceerd"
    if missed:
        text += (
            f" voor de GS-vergadering van {long_date(missed.at)} (de GS-agenda sloot "
            f"{long_date(missed.agenda_closes_at)} om {time_of_day(missed.agenda_closes_at)})"
        )
    if plan.gs_meeting:
        return text + f". Bespreek hem zo mogelijk in de GS-vergadering van {long_date(plan.gs_meeting.at)}."
    return text + ". Er is geen GS-vergadering meer vóór de IPO-vergadering."


def _moved(notice: PlannedNotice) -> str:
    if notice.moved_from is None:  # not made by the planner, which always says where from
        return f"verplaatst naar {long_date(notice.meeting.starts_at)}"
    return moved_sentence(notice.moved_from, notice.meeting)


def _with_article(body: str) -> str:
    return f"de {body}" if body.startswith(("BAC", "Algemene")) else f"het {body}"


def time_text(meeting: Meeting) -> str:
    if meeting.all_day:
        return "tijd nog niet bekend"
    start = time_of_day(meeting.starts_at).removesuffix(" uur")
    if meeting.ends_at:
        return f"{start} tot {time_of_day(meeting.ends_at)}"
    return f"{start} uur"


def meeting_summary(notice: PlannedNotice) -> str:
    """What an edition stores of its notice: the meeting as announced (for a later update's diff)."""
    plan = notice.plan
    return json.dumps(
        {
            "meeting": notice.meeting.to_json(),
            "version": notice.version,
            "province": notice.province,
            "notice": notice.kind,
            "urgent": notice.is_urgent,
            "gs_meeting": plan.gs_meeting.at.isoformat() if plan and plan.gs_meeting else None,
            "missed": plan.missed.at.isoformat() if plan and plan.missed else None,
            "changes": list(notice.changes),
        },
        ensure_ascii=False,
    )


# -- the digest ------------------------------------------------------------------------------


def digest_period(now: datetime, weeks: int) -> tuple[date, date]:
    """From the coming Monday (or today, on a Monday) for `weeks` weeks, in Dutch time."""
    today = local(now).date()
    start = today + timedelta(days=(7 - today.weekday()) % 7)
    return start, start + timedelta(days=7 * weeks - 1)


def digest_key(start: date) -> str:
    year, week, _ = start.isocalendar()
    return f"agendaoverzicht-{year}-w{week:02d}"
