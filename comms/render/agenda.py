"""Rendering agenda notices and the agenda digest: once per edition, like the newsletter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from comms.collect.meetings.model import Meeting
from comms.compose.agenda import PlannedNotice, notice_context
from comms.config import Config
from comms.render.ics import meeting_ics
from comms.render.message import Attachment
from comms.render.personalise import RecipientFields
from comms.render.templates import Rendered, Templates

NOTICE_TEMPLATE = "agenda-notice"
DIGEST_TEMPLATE = "agenda-digest"


def render_notice(templates: Templates, notice: PlannedNotice, template: str = NOTICE_TEMPLATE) -> Rendered:
    context: dict[str, Any] = notice_context(notice) | {"recipient": RecipientFields()}
    return templates.render(template, context)


def render_digest(templates: Templates, digest: dict[str, Any], template: str = DIGEST_TEMPLATE) -> Rendered:
    # No `recipient` in the context: a template that reaches for a personal value fails to
    # render (StrictUndefined), so a forwarded digest can never carry one.
    return templates.render(template, {"digest": digest})


def notice_attachment(
    config: Config, meeting: Meeting, version: int, cancelled: bool, now: datetime
) -> Attachment:
    """The meeting as an .ics: one UID for every version, SEQUENCE counting the versions."""
    description = "\n".join(f"{item.number}. {item.title}" for item in meeting.items)
    data = meeting_ics(
        uid=meeting.uid,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        location=meeting.location,
        description=description,
        url=meeting.url,
        sequence=version - 1,
        cancelled=cancelled,
        organizer=(config.sender.name, config.sender.address),
        now=now,
    )
    method = "CANCEL" if cancelled else "PUBLISH"
    return Attachment("vergadering.ics", f'text/calendar; charset="utf-8"; method={method}', data)
