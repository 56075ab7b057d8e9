"""`comms check`: everything that can be validated before anything is due."""

from __future__ import annotations

import os
from datetime import timedelta

from comms.audience.contacts import read_audience
from comms.audience.gs_calendar import check_gs_calendar
from comms.compose.newsletter import Entry, Event, Month, NewsletterContent, Section
from comms.config import Config
from comms.dates import utcnow
from comms.domain import PROVINCES, THEMES
from comms.problems import Problem
from comms.render.newsletter import render_newsletter
from comms.render.personalise import Personaliser
from comms.render.templates import TemplateError
from comms.schedule.definitions import load_schedules
from comms.service import Service
from comms.survey.definitions import check_surveys


def run_checks(config: Config) -> list[Problem]:
    service = Service(config, db=None)  # type: ignore[arg-type]  # checks never touch the database
    problems: list[Problem] = []
    _, theme_problems = service.themes()
    segments, segment_problems = service.segments()
    problems += theme_problems + segment_problems
    if config.newsletter.audience not in segments:
        problems.append(
            Problem(
                str(config.segments_file),
                f"the newsletter's audience {config.newsletter.audience!r} is not defined",
            )
        )
    problems += check_templates(service)
    problems += _check_audience(config)
    # A mailing template is a folder with an email.mjml; templates/web holds the web pages.
    templates = {p.parent.name for p in service.templates.directory.glob("*/email.mjml")}
    _, schedule_problems = load_schedules(config.resolve(config.schedules_dir), set(segments), templates)
    problems += schedule_problems
    problems += check_gs_calendar(config.resolve(config.agenda.gs_calendar))
    problems += check_surveys(config.resolve(config.templates_dir) / "surveys")
    if not config.secret_key:
        problems.append(Problem("environment", "COMMS_SECRET_KEY is not set; sending needs it to sign links"))
    problems += _check_transport(config)
    return problems


def sample_content() -> NewsletterContent:
    """A newsletter with something in every section, so every template branch renders."""
    now = utcnow()
    entry = Entry(
        "Voorbeeldbericht",
        "https://www.ipo.example.org/nieuws/voorbeeld",
        "<p>Tekst</p>",
        now,
        "IPO-nieuws",
    )
    sections = [Section(t.id, t.name, [entry]) for t in THEMES] + [
        Section("overig", "Overig nieuws", [entry])
    ]
    event = Event(
        "Kennissessie",
        "https://www.ipo.example.org/agenda/1",
        "<p>Tekst</p>",
        now + timedelta(days=3),
        now + timedelta(days=3, hours=2),
        "Den Haag",
        "Kennissessies",
    )
    return NewsletterContent(
        Month.of(now), "<p>Inleiding</p>", sections, [event], [entry], {PROVINCES[0].name: [entry]}
    )


def check_templates(service: Service) -> list[Problem]:
    config = service.config
    try:
        rendered = render_newsletter(
            service.templates, config, sample_content(), "nieuwsbrief-check", "Controle"
        )
        Personaliser.cut(rendered.html, is_html=True)
        Personaliser.cut(rendered.text, is_html=False)
    except TemplateError as exc:
        return [exc.problem]
    except ValueError as exc:
        return [Problem(str(service.templates.directory), str(exc))]
    return []


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
