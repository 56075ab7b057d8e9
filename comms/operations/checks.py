"""`comms check`: everything that can be validated before anything is due."""

from __future__ import annotations

import os

from comms import kinds
from comms.audience.contacts import read_audience
from comms.audience.gs_calendar import check_gs_calendar
from comms.config import Config
from comms.kinds import PeriodicKind
from comms.problems import Problem, Severity
from comms.schedules import Schedule, load_schedules
from comms.service import Service
from comms.survey.definitions import check_surveys


def run_checks(config: Config) -> list[Problem]:
    service = Service(config, db=None)  # type: ignore[arg-type]  # checks never touch the database
    problems: list[Problem] = []
    _, theme_problems = service.themes()
    segments, segment_problems = service.segments()
    problems += theme_problems + segment_problems
    # A mailing template is a folder with an email.mjml; templates/web holds the web pages.
    templates = {p.parent.name for p in service.templates.directory.glob("*/email.mjml")}
    schedules, schedule_problems = load_schedules(
        config.resolve(config.schedules_dir), set(segments), templates
    )
    problems += _check_default_audiences(config, set(segments))
    problems += _check_senders(config)
    problems += service.templates.structure_problems()
    problems += [p for p in check_templates(service, schedules) if p not in problems]  # MJML: once
    problems += _check_audience(config)
    problems += schedule_problems
    problems += check_gs_calendar(config.resolve(config.agenda.gs_calendar))
    problems += check_surveys(config.resolve(config.templates_dir) / "surveys")
    if not config.secret_key:
        problems.append(Problem("environment", "COMMS_SECRET_KEY is not set; sending needs it to sign links"))
    problems += _check_transport(config)
    return problems


def _check_default_audiences(config: Config, segments: set[str]) -> list[Problem]:
    """The segment each periodic kind goes to when no schedule names one must exist."""
    problems = []
    for kind in kinds.every():
        if isinstance(kind, PeriodicKind) and kind.default_audience(config) not in segments:
            reason = f"the {kind.key} audience {kind.default_audience(config)!r} is not defined"
            problems.append(Problem(str(config.segments_file), reason))
    return problems


def _check_senders(config: Config) -> list[Problem]:
    """Each [senders.<kind>] names a mailing kind; a kind without one is sent from the service's
    own address ([sender]), which is allowed but said, since replies then reach no desk."""
    problems = []
    known = kinds.all_keys()
    for key in config.senders:
        if key not in known:
            reason = f"[senders.{key}] is not a mailing kind (known: {', '.join(known)})"
            problems.append(Problem(str(config.path), reason))
    for kind in kinds.every():
        if kind.key not in config.senders:
            reason = (
                f"no [senders.{kind.key}]: {kind.key} mail goes out from [sender] {config.sender.address}"
            )
            problems.append(Problem(str(config.path), reason, severity=Severity.WARNING))
    return problems


def check_templates(service: Service, schedules: list[Schedule]) -> list[Problem]:
    """Every kind's own template and every template a schedule names, rendered with sample content."""
    config = service.config
    wanted = {(kind, kind.default_template(config)) for kind in kinds.every()}
    wanted |= {(schedule.kind, schedule.template) for schedule in schedules}
    problems: list[Problem] = []
    for kind, template in sorted(wanted, key=lambda pair: (pair[0].key, pair[1])):
        problems += [p for p in kind.check_template(service, template) if p not in problems]
    return problems


def _check_audience(config: Config) -> list[Problem]:
    files = config.contact_files()
    if not files:
        return [Problem(str(config.path), f"no contact files match {list(config.contacts)}")]
    return read_audience(files).problems


def _check_transport(config: Config) -> list[Problem]:
    transport = config.delivery.transport
    if transport == "sendgrid" and not os.environ.get("COMMS_SENDGRID_API_KEY"):
        return [Problem("environment", "COMMS_SENDGRID_API_KEY is not set; the sendgrid transport needs it")]
    if transport == "smtp" and config.smtp.username and not os.environ.get("COMMS_SMTP_PASSWORD"):
        return [Problem("environment", "COMMS_SMTP_PASSWORD is not set; [smtp] username needs it")]
    if (
        transport == "smtp"
        and config.smtp.signs_dkim
        and not config.resolve(config.smtp.dkim_key_file or "").is_file()
    ):
        return [Problem(str(config.path), f"[smtp] dkim_key_file {config.smtp.dkim_key_file} does not exist")]
    return []
