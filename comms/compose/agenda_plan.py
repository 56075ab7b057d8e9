"""When a province's agenda notice for an IPO meeting goes out: before its GS agenda closes.

The rule ("bespreek de agenda's van het IPO-bestuur en de BAC's altijd in GS"):

1. Take the province's last GS meeting strictly before the IPO meeting, date-wise: a GS
   meeting on the day of the IPO meeting itself is not "ahead" of it. Skipped meetings and
   recess weeks do not count (gs_calendar leaves them out), so the plan falls back to the
   meeting before; extra meetings count. Only meetings within `look_back` are considered.
2. Its agenda deadline D. The notice is planned `lead` before D (by default 2 working days
   before D's day, at 09:00 local time), and never before `now` (then: now). A working day
   is a day of the window that is no public holiday and no closed day of the province
   (comms.audience.workdays, `closed` in the GS calendar): Christmas before D moves the
   notice to the working day before it.
3. Outside working hours (`window`, working days 08:00-18:00 local) the send moves to the
   latest working-hours moment before it that is not before `now`, else to the first one
   after it that is still before D (the next working day), else it stays: early beats late.
4. D already passed (D <= now): urgent, at once; `missed` is that GS meeting. `gs_meeting`
   is then the next GS meeting still ahead before the IPO meeting (the missed meeting
   itself, if it has not taken place yet), else None: the IPO meeting comes first.
5. No GS meeting within the look-back: not urgent, at once (nothing can be missed).

Pure and deterministic: the calendar and `now` are given; every moment is aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from comms.audience.gs_calendar import GsCalendar, GsMeeting
from comms.audience.workdays import Workdays
from comms.dates import AMSTERDAM, local
from comms.domain import province_by_name
from comms.problems import Problem, Severity
from comms.send_window import SendWindow

LOOK_BACK = timedelta(weeks=10)  # longer than a summer recess
WORKING_HOURS = SendWindow(days=frozenset(range(5)), start=time(8, 0), end=time(18, 0))
_MINUTE = timedelta(minutes=1)
_MAX_DAYS_OFF = 60  # how far past holidays and closed days the planner looks for a working day


@dataclass(frozen=True, slots=True)
class Lead:
    """How long before the GS agenda closes a notice goes out: working days back, at a time of day."""

    working_days: int = 2
    at: time = time(9, 0)

    def before(self, deadline: datetime, working: Workdays) -> datetime:
        """`working_days` working days before the deadline's day, at `at`; always before it."""
        day, left = local(deadline).date(), self.working_days
        # Bounded: a window always has a working day, and closed days and holidays are few.
        for _ in range(7 * (self.working_days + 2) + _MAX_DAYS_OFF):
            candidate = _utc(day, self.at)
            if left <= 0 and working.is_working(day) and candidate < deadline:
                return candidate
            day -= timedelta(days=1)
            left -= working.is_working(day)
        return deadline - timedelta(days=1)

    def describe(self) -> str:
        days = "1 working day" if self.working_days == 1 else f"{self.working_days} working days"
        return f"{days} at {self.at:%H:%M}"


DEFAULT_LEAD = Lead()


@dataclass(frozen=True, slots=True)
class NoticePlan:
    province: str  # Province.name
    send_at: datetime  # aware UTC
    gs_meeting: GsMeeting | None  # the GS meeting the notice is meant for
    is_urgent: bool
    missed: GsMeeting | None  # the GS meeting whose agenda deadline has passed (urgent)
    reason: str  # English, for `comms agenda plan`

    @property
    def reaches_agenda(self) -> bool:
        """Whether the notice arrives before the GS agenda closes."""
        return self.gs_meeting is not None and not self.is_urgent


def plan_notice(
    province: str,
    meeting_starts_at: datetime,
    calendar: GsCalendar,
    now: datetime,
    lead: Lead = DEFAULT_LEAD,
    window: SendWindow = WORKING_HOURS,
    look_back: timedelta = LOOK_BACK,
) -> NoticePlan | Problem:
    """The plan for one province and one IPO meeting, or why there is none."""
    found = province_by_name(province)
    if found is None or not calendar.knows(province):
        reason = (
            f"province {province} is not in the GS calendar {calendar.where} "
            "(missing, or its table has an error: run comms check)"
        )
        return Problem(calendar.where, reason, subject=province)
    name = found.name
    if meeting_starts_at <= now:
        reason = f"the IPO meeting of {_when(meeting_starts_at)} has begun already: no notice"
        return Problem(calendar.where, reason, subject=name, severity=Severity.WARNING)

    ipo_day = _start_of_day(local(meeting_starts_at).date())
    ahead = calendar.meetings(name, ipo_day - look_back, ipo_day)
    if not ahead:
        weeks = look_back.days // 7
        reason = (
            f"GS {name} has no meeting in the {weeks} weeks before the IPO meeting of "
            f"{_when(meeting_starts_at)}: sent at once"
        )
        return NoticePlan(name, now, None, is_urgent=False, missed=None, reason=reason)
    last = ahead[-1]
    if not last.takes_items_at(now):
        return _urgent(name, last, now)
    hours = _Hours(window, Workdays(window.days, calendar.closed_days(name)))
    return _planned(name, last, now, lead, hours)


@dataclass(frozen=True, slots=True)
class _Hours:
    """Working hours: the window's hours on the province's working days."""

    window: SendWindow
    days: Workdays

    def allows(self, moment: datetime) -> bool:
        return self.window.allows(moment) and self.days.is_working(local(moment).date())

    def describe(self) -> str:
        return self.window.describe()


def _planned(province: str, gs: GsMeeting, now: datetime, lead: Lead, hours: _Hours) -> NoticePlan:
    deadline = gs.agenda_closes_at
    planned = lead.before(deadline, hours.days)
    reason = f"{lead.describe()} before the agenda of GS {province} closes on {_when(deadline)}"
    reason += f", for the GS meeting of {_when(gs.at)}{_extra(gs)}"
    reason += _days_off(planned, deadline, hours.days)
    if planned < now:
        planned = now
        reason += "; that moment has passed, so at once"
    fitted = _within_hours(planned, now, deadline, hours)
    if fitted != planned:
        reason += f"; moved into working hours ({hours.describe()}) to {_when(fitted)}"
    elif not hours.allows(fitted):
        reason += f"; outside working hours ({hours.describe()}), but no working hour is left before"
    return NoticePlan(province, fitted, gs, is_urgent=False, missed=None, reason=reason)


def _days_off(planned: datetime, deadline: datetime, days: Workdays) -> str:
    """The holidays and closed days the lead skipped over, for the reason: '; skipped 2026-12-25 …'."""
    first, last = local(planned).date(), local(deadline).date()
    skipped = []
    for n in range(1, (last - first).days):
        day = first + timedelta(days=n)
        why = days.why_not(day)
        if why and day.weekday() in days.weekdays:  # weekends go without saying
            skipped.append(f"{day:%Y-%m-%d} ({why})")
    return f"; skipped {', '.join(skipped)}" if skipped else ""


def _urgent(province: str, missed: GsMeeting, now: datetime) -> NoticePlan:
    reason = (
        f"urgent, at once: the agenda of GS {province} for its meeting of {_when(missed.at)}"
        f"{_extra(missed)} closed on {_when(missed.agenda_closes_at)}"
    )
    if missed.at > now:
        reason += "; that meeting still comes before the IPO meeting"
        return NoticePlan(province, now, missed, is_urgent=True, missed=missed, reason=reason)
    reason += "; the IPO meeting comes before the next GS meeting"
    return NoticePlan(province, now, None, is_urgent=True, missed=missed, reason=reason)


def _within_hours(moment: datetime, now: datetime, deadline: datetime, hours: _Hours) -> datetime:
    """moment if working hours allow it, else the nearest allowed moment in [now, deadline)."""
    if hours.allows(moment):
        return moment
    earlier = _last_open_before(moment, hours)
    if earlier is not None and earlier >= now:
        return earlier
    later = _first_open_after(moment, hours)
    if later is not None and later < deadline:
        return later
    return moment


def _last_open_before(moment: datetime, hours: _Hours) -> datetime | None:
    """The last minute of the latest working hours that close before `moment`."""
    today = local(moment).date()
    for back in range(8 + _MAX_DAYS_OFF):
        day = today - timedelta(days=back)
        candidate = _utc(day, hours.window.end) - _MINUTE
        if hours.days.is_working(day) and candidate <= moment:
            return candidate
    return None


def _first_open_after(moment: datetime, hours: _Hours) -> datetime | None:
    """The opening of the first working hours that open after `moment`."""
    today = local(moment).date()
    for ahead in range(8 + _MAX_DAYS_OFF):
        day = today + timedelta(days=ahead)
        candidate = _utc(day, hours.window.start)
        if hours.days.is_working(day) and candidate >= moment:
            return candidate
    return None


def _extra(gs: GsMeeting) -> str:
    if not gs.is_extra:
        return ""
    return f" (extra meeting: {gs.note})" if gs.note else " (extra meeting)"


def _when(moment: datetime) -> str:
    """'Tue 2026-12-08 10:00 CET': English weekday names whatever the locale."""
    wall = local(moment)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[wall.weekday()]
    return f"{day} {wall:%Y-%m-%d %H:%M %Z}"


def _utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, AMSTERDAM).astimezone(UTC)


def _start_of_day(day: date) -> datetime:
    return _utc(day, time())
