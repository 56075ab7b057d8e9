"""Notices to the communications team: approval needed, a mailing held, a planned send missed.

They go through the configured transport like any mailing (the outbox in development),
but not through the message ledger: a notice is about a mailing, not part of one.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from comms.clock import Clock
from comms.config import Config
from comms.deliver.transports import make_transport
from comms.render.message import Mailing, MailingIdentity, Recipient
from comms.render.templates import Rendered
from comms.render.wrap import tidy_text
from comms.tokens import Signer

log = logging.getLogger(__name__)
OUTBOX_KEY = "meldingen"  # the outbox folder for team notices
_URL = re.compile(r"https?://[^\s<>\"']+")  # in escaped text: no quote or bracket is part of one


@dataclass(frozen=True, slots=True)
class TeamNotice:
    subject: str  # Dutch, like everything the team reads in its mailbox
    lines: list[str] = field(default_factory=list)
    link: tuple[str, str] | None = None  # (label, url)

    def text(self, signature: str) -> str:
        """Paragraphs (their long lines wrapped), then "-- " and the signature (from [sender])."""
        parts = list(self.lines)
        if self.link:
            parts.append(f"{self.link[0]}: {self.link[1]}")
        return tidy_text("\n\n".join([*parts, f"--\n{signature}"]))

    def html(self, signature: str) -> str:
        paragraphs = "".join(f"<p>{_linked(line)}</p>" for line in self.lines)
        if self.link:
            label, url = self.link
            paragraphs += f'<p><a href="{escape(url)}">{escape(label)}</a></p>'
        signed = "<br>".join(escape(line) for line in signature.splitlines())
        return (
            '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
            f"<title>{escape(self.subject)}</title></head><body>{paragraphs}"
            f"<p>{signed}</p></body></html>"
        )


def _linked(line: str) -> str:
    """A line as HTML: escaped, its line breaks kept, its web addresses (a console page) links."""
    html = escape(line).replace("\n", "<br>")
    return _URL.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', html)


def notify_team(
    config: Config, signer: Signer, notice: TeamNotice, addresses: tuple[str, ...], clock: Clock
) -> int:
    """Send the notice to the schedule's addresses, else the [team] addresses; returns how many.

    Never raises: a notice that cannot be sent is logged, it must not stop the job it is about.
    """
    recipients = addresses or tuple(config.team.addresses)
    if not recipients:
        log.warning("team notice not sent, no [team] addresses configured: %s", notice.subject)
        return 0
    return send_notice(config, signer, notice, recipients, clock, config.team.name)


def send_notice(
    config: Config,
    signer: Signer,
    notice: TeamNotice,
    recipients: tuple[str, ...],
    clock: Clock,
    display_name: str = "",
) -> int:
    """A single service mail (a team notice, a requested preference link), outside any ledger."""
    now = clock.now()
    sender = config.sender  # the service's own address, not any mailing kind's desk
    identity = MailingIdentity(
        edition_key=OUTBOX_KEY,
        kind="team",
        subject=notice.subject,
        sender=sender,
        list_name="Meldingen",
        list_id="meldingen",
        base_url=config.web_base_url,
        bulk=False,  # to one person: no List-Id, no List-Unsubscribe (there is nothing to leave)
    )
    rendered = Rendered(notice.html(sender.signature), notice.text(sender.signature))
    mailing = Mailing(identity, rendered, signer, now)
    # Each message its own Message-ID: two notices in one second must not look like one.
    messages = [
        mailing.message(Recipient(number, _unique_id(now), address, "", display_name), frozenset())
        for number, address in enumerate(recipients, start=1)
    ]
    try:
        transport = make_transport(config, OUTBOX_KEY, clock)
        transport.open()
        try:
            results = transport.send_batch(messages)
        finally:
            transport.close()
    except Exception as exc:  # the transport is down or misconfigured: log, do not stop the job
        log.error("notice %r not sent: %s", notice.subject, type(exc).__name__)
        return 0
    return sum(1 for r in results if r.delivered)


def _unique_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(8)}"
