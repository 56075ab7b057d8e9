"""Pick the configured transport; secrets come from the environment only."""

from __future__ import annotations

import os
from collections.abc import Callable

from comms.clock import Clock
from comms.config import Config
from comms.deliver.outbox import OutboxTransport
from comms.deliver.sendgrid import SendgridTransport
from comms.deliver.smtp import DkimSigner, SmtpTransport
from comms.deliver.transport import Transport
from comms.problems import Problem, ValidationFailed
from comms.track.verp import ReturnPaths


def make_transport(
    config: Config, edition_key: str, clock: Clock, *, dry_run: bool = False, ledger: bool = False
) -> Transport:
    """`ledger`: the messages are message-ledger rows, so their ids may go into a VERP return
    path. Test copies and team notices number their messages 1, 2, …: a bounce of one must
    never be taken for the ledger row with that id."""
    name = config.delivery.transport
    if dry_run and name != "sendgrid":
        raise ValidationFailed(
            [
                Problem(
                    str(config.path), f"--dry-run needs the sendgrid transport (sandbox mode); this is {name}"
                )
            ]
        )
    if name == "smtp":
        return _smtp(config, ledger)
    if name == "sendgrid":
        key = os.environ.get("COMMS_SENDGRID_API_KEY")
        if not key:
            raise ValidationFailed(
                [Problem("environment", "COMMS_SENDGRID_API_KEY is not set; the sendgrid transport needs it")]
            )
        return SendgridTransport(config.sendgrid, key, sandbox=dry_run, clock=clock)
    return OutboxTransport(config.resolve(config.delivery.outbox_dir), edition_key)


def _smtp(config: Config, ledger: bool) -> SmtpTransport:
    settings = config.smtp
    dkim = None
    if settings.signs_dkim:
        assert settings.dkim_selector and settings.dkim_key_file
        key_file = config.resolve(settings.dkim_key_file)
        if not key_file.exists():
            raise ValidationFailed(
                [Problem(str(config.path), f"[smtp] dkim_key_file {key_file} does not exist")]
            )
        dkim = DkimSigner.from_file(
            settings.dkim_selector, settings.dkim_domain or config.sender.domain, key_file
        )
    password = os.environ.get("COMMS_SMTP_PASSWORD")
    if settings.username and not password:
        raise ValidationFailed(
            [Problem("environment", "COMMS_SMTP_PASSWORD is not set; [smtp] username needs it")]
        )
    return_path = _return_path(config) if ledger else None
    return SmtpTransport(settings, password, dkim, return_path)


def _return_path(config: Config) -> Callable[[int], str] | None:
    """VERP when [bounces] address is set: bounces come back naming their ledger row."""
    if not config.bounces.uses_verp:
        return None
    if not config.secret_key:
        raise ValidationFailed([Problem("environment", "COMMS_SECRET_KEY is not set; VERP signs with it")])
    return ReturnPaths(config.bounces.address, config.secret_key).envelope_sender


def describe_destination(transport: Transport) -> str:
    """Where a transport's messages end up, for the operator: a folder, a relay, a provider."""
    if isinstance(transport, OutboxTransport):
        return f"outbox {transport.messages_dir}"
    if isinstance(transport, SmtpTransport):
        return f"SMTP server {transport.address}"
    return transport.name
