"""comms.toml: the service's configuration, validated into small typed objects.

Secrets never live in the file: COMMS_SECRET_KEY (token signing) and the
transport credentials come from the environment; COMMS_DATABASE_URL overrides
the file's database URL.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import types
import typing
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path

from comms.domain import BODIES, body_by_name
from comms.problems import Problem, Severity
from comms.tomlfile import read_toml

DEFAULT_CONFIG = Path("comms.toml")
TRANSPORTS = ("outbox", "smtp", "sendgrid")
T = typing.TypeVar("T")
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class ItemKind(StrEnum):
    NEWS = "news"
    POSITION_PAPER = "position-paper"
    EVENT = "event"  # kennissessie or technische briefing, from iCalendar
    MEETING = "meeting"  # IPO-bestuur, BAC or AV agenda: into the meeting ledger, not the item ledger


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One `[[sources]]` table of comms.toml."""

    name: str  # short id, e.g. "ipo-nieuws"
    title: str  # shown to readers, e.g. "IPO-nieuws"
    url: str  # http(s) URL or a local path (relative to the config file)
    format: str  # "feed" (RSS/Atom, via feedparser) or "ical"
    kind: ItemKind
    timeout_seconds: float = 10.0  # per network read
    province: str | None = None  # every item of this source concerns one province
    body: str | None = None  # a domain.BODIES id: the body of every meeting that does not name its own
    deadline_seconds: float | None = None  # the whole fetch; None: [collect] deadline_seconds
    # May connect to loopback, private, link-local … addresses (an intranet feed): True for any,
    # or the networks allowed ("10.20.0.0/16"). Public addresses are always allowed.
    allow_private_addresses: bool | tuple[str, ...] = False


@dataclass(frozen=True, slots=True)
class CollectConfig:
    """`[collect]`: how sources are fetched."""

    deadline_seconds: float = 30  # a source that takes longer in all is given up (and reported)
    max_concurrent_fetches: int = 4  # so one slow source does not hold up the others


@dataclass(frozen=True, slots=True)
class Sender:
    name: str
    address: str
    reply_to: str | None = None

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    transport: str = "outbox"  # outbox | smtp | sendgrid
    outbox_dir: Path = Path("outbox")
    batch_size: int | None = None  # None: what the transport prefers (SendGrid 1000, SMTP 100)
    claim_timeout_seconds: int = 300  # a claim older than this belongs to a dead worker
    max_attempts: int = 8  # a transient failure is retried until then, then it is final
    retry_base_seconds: float = 60  # first retry after 30-60 s, doubling each attempt
    max_per_second: float = 0  # 0: no limit
    max_per_hour: int = 0  # sliding window over the whole ledger; 0: no limit
    # A message handed over without a verdict (no reply to SMTP's final dot) may have arrived:
    # it is sent once more after this long, then settled. An hour lets a relay that was stuck
    # or restarting recover and its queue drain, keeps the mail within the same working day,
    # and bounds what a recipient can get to two copies (with the same Message-ID).
    uncertain_retry_seconds: int = 3600


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """`[smtp]`; the password comes from COMMS_SMTP_PASSWORD, never from the file."""

    host: str = "localhost"
    port: int = 587
    security: str = "starttls"  # starttls | tls (implicit, port 465) | none (loopback only)
    username: str | None = None
    # RFC 5321 §4.5.3.2: 5 minutes for the greeting and each command's reply, 10 minutes for
    # the reply to the final dot (the server may be checking the message before it answers).
    command_timeout_seconds: float = 300
    data_timeout_seconds: float = 600
    timeout_seconds: float | None = None  # before 2026-12: read as command_timeout_seconds
    ca_file: str | None = None  # trust this CA as well (a private relay's certificate)
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: str | None = None  # PEM private key; relative to the config file

    @property
    def signs_dkim(self) -> bool:
        return bool(self.dkim_selector and self.dkim_key_file)


@dataclass(frozen=True, slots=True)
class SendgridConfig:
    """`[sendgrid]`; the API key comes from COMMS_SENDGRID_API_KEY."""

    api_host: str = "https://api.sendgrid.com"
    timeout_seconds: float = 30
    max_retries: int = 4  # per request, for 429, 5xx and network errors
    asm_groups: dict[str, int] = field(default_factory=dict)  # mailing kind → unsubscribe group id
    track_opens: bool = False  # off by default: recipients are not followed unless chosen
    track_clicks: bool = False
    webhook_public_key: str | None = None  # base64 DER (SendGrid's "verification key")
    webhook_max_age_seconds: int = 600  # a signed post older than this is refused (replays)


@dataclass(frozen=True, slots=True)
class AgendaConfig:
    """`[agenda]`: agenda notices to each province's GS and the weekly digest for the griffies."""

    gs_calendar: str = "audiences/gs-calendar.toml"
    notice_list_name: str = "IPO-agendaberichten voor GS"
    notice_list_id: str = "agendaberichten"
    digest_audience: str = "griffies"  # a segment
    digest_weeks: int = 6  # how far ahead the digest looks
    digest_list_name: str = "IPO-agendaoverzicht voor griffies"
    digest_list_id: str = "agendaoverzicht"


@dataclass(frozen=True, slots=True)
class TeamConfig:
    """`[team]`: the communications team, told about approvals, held and missed mailings."""

    name: str = "Communicatie IPO"
    addresses: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """`[serve]`: the long-running processes (`comms serve`, `comms worker`)."""

    host: str = "127.0.0.1"
    port: int = 8000
    # A standby `comms serve` tries to become leader this often: the takeover interval.
    leader_poll_seconds: float = 5
    # How often a worker looks for editions to deliver when it found none.
    worker_poll_seconds: float = 5
    # At most this long between scheduler wake-ups (also how soon a schedule edit is seen).
    scheduler_max_wait_seconds: float = 60
    # A leader that could not confirm its lock for this long runs no step and reports standby;
    # a new leader waits this long after taking the lock, so two never lead at once.
    leader_lease_seconds: float = 6
    # A running job renews its heartbeat this often; one silent for three times as long is
    # taken over by the leader (its runner is gone).
    job_heartbeat_seconds: float = 10
    # A job cut short by the database is tried again after this, doubling, at most 5 minutes,
    # until its schedule's staleness limit.
    job_retry_seconds: float = 5


@dataclass(frozen=True, slots=True)
class BouncesConfig:
    """`[bounces]`: the VERP envelope sender, the soft-bounce rule and the bounce mailbox (IMAP).

    The IMAP password comes from COMMS_BOUNCES_IMAP_PASSWORD, never from the file.
    """

    # "bounces@ipo.example.org": each SMTP message goes out with MAIL FROM
    # bounces+<signed ledger id>@ipo.example.org. Empty: the sender's address, no VERP.
    address: str = ""
    soft_bounce_limit: int = 3  # soft bounces on this many different days suppress the address
    soft_bounce_window_days: int = 90  # … within this many days, with no delivery in between
    imap_host: str = ""  # empty: no bounce mailbox is read
    imap_port: int = 993
    imap_security: str = "tls"  # tls (implicit) | starttls | none (loopback only)
    imap_username: str = ""
    imap_folder: str = "INBOX"
    imap_handled_folder: str = ""  # handled mail is moved here; empty: flagged and left
    imap_ca_file: str | None = None
    imap_timeout_seconds: float = 60
    poll_seconds: float = 300  # how often `comms serve` reads the mailbox

    @property
    def uses_verp(self) -> bool:
        return bool(self.address)

    @property
    def reads_mailbox(self) -> bool:
        return bool(self.imap_host)


@dataclass(frozen=True, slots=True)
class NewsletterConfig:
    audience: str = "statenleden"
    template: str = "newsletter"
    subject: str = "IPO-nieuwsbrief voor Statenleden – {month}"
    list_name: str = "IPO-nieuwsbrief voor Statenleden"
    list_id: str = "nieuwsbrief-statenleden"
    intro_dir: Path = Path("content/newsletter")
    first_window_days: int = 30  # the first edition looks this far back
    event_horizon_days: int = 62  # how far ahead kennissessies and briefings are announced
    av_categories: tuple[str, ...] = ("Algemene Vergadering",)
    max_items: int = 40  # per edition; the rest is left out and reported at build time
    max_item_chars: int = 1000  # an item's text beyond this is cut, with "Lees verder" to its source


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    sender: Sender
    database_url: str
    web_base_url: str
    delivery: DeliveryConfig
    newsletter: NewsletterConfig
    contacts: tuple[str, ...]  # glob patterns, relative to the config file
    segments_file: Path
    themes_file: Path
    templates_dir: Path
    schedules_dir: Path
    sources: tuple[SourceConfig, ...] = field(default_factory=tuple)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    sendgrid: SendgridConfig = field(default_factory=SendgridConfig)
    team: TeamConfig = field(default_factory=TeamConfig)
    agenda: AgendaConfig = field(default_factory=AgendaConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: Path | str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.base_dir / path

    def contact_files(self) -> list[Path]:
        files: set[Path] = set()
        for pattern in self.contacts:
            files.update(self.base_dir.glob(pattern))
        return sorted(files)

    @property
    def secret_key(self) -> str | None:
        return os.environ.get("COMMS_SECRET_KEY")


def load_config(path: Path) -> tuple[Config | None, list[Problem]]:
    """Read and validate comms.toml; every problem is reported, none raised."""
    if not path.exists():
        return None, [Problem(str(path), "configuration file not found (use --config or COMMS_CONFIG)")]
    _, raw, problems = read_toml(path)
    if raw is None:
        return None, problems
    config = _build(path.resolve(), raw, problems)
    return (None if any(p.is_error for p in problems) else config), problems


def _build(path: Path, raw: dict, problems: list[Problem]) -> Config:
    where = str(path.name)

    def table(name: str) -> dict:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            problems.append(Problem(where, f"[{name}] must be a table"))
            return {}
        return value

    sender_raw = table("sender")
    sender = Sender(
        name=str(sender_raw.get("name", "IPO")),
        address=str(sender_raw.get("address", "")),
        reply_to=sender_raw.get("reply_to"),
    )
    for key, value in (("address", sender.address), ("reply_to", sender.reply_to)):
        if (value or key == "address") and not _ADDRESS.match(value or ""):
            problems.append(Problem(where, f"[sender] {key} is not an e-mail address: {value!r}"))

    web = table("web")
    base_url = str(web.get("base_url", "")).rstrip("/")
    if not base_url.startswith("https://"):
        problems.append(Problem(where, f"[web] base_url must be an https URL, got {base_url!r}"))

    database_url = os.environ.get("COMMS_DATABASE_URL") or str(
        table("database").get("url", "sqlite:///var/comms.sqlite3")
    )
    delivery = _delivery(table("delivery"), where, problems)
    newsletter = _newsletter(table("newsletter"), where, problems)
    audience = table("audience")
    paths = table("paths")
    return Config(
        path=path,
        sender=sender,
        database_url=database_url,
        web_base_url=base_url,
        delivery=delivery,
        newsletter=newsletter,
        contacts=tuple(audience.get("contacts", ["audiences/contacts/*.csv"])),
        segments_file=Path(audience.get("segments", "audiences/segments.toml")),
        themes_file=Path(paths.get("themes", "templates/themes.toml")),
        templates_dir=Path(paths.get("templates", "templates")),
        schedules_dir=Path(paths.get("schedules", "schedules")),
        sources=_sources(raw.get("sources", []), where, problems),
        smtp=_smtp(table("smtp"), where, problems),
        sendgrid=_typed(SendgridConfig, table("sendgrid"), "sendgrid", where, problems),
        team=_team(table("team"), where, problems),
        agenda=_typed(AgendaConfig, table("agenda"), "agenda", where, problems),
        serve=_typed(ServeConfig, table("serve"), "serve", where, problems),
        bounces=_bounces(table("bounces"), where, problems),
        collect=_collect(table("collect"), where, problems),
    )


IMAP_SECURITY = ("tls", "starttls", "none")


def _bounces(raw: dict, where: str, problems: list[Problem]) -> BouncesConfig:
    bounces = _typed(BouncesConfig, raw, "bounces", where, problems)
    if bounces.address and not _ADDRESS.match(bounces.address):
        problems.append(Problem(where, f"[bounces] address is not an e-mail address: {bounces.address!r}"))
    elif "+" in bounces.address:
        problems.append(Problem(where, "[bounces] address must not hold a '+': comms adds its own tag"))
    if bounces.imap_security not in IMAP_SECURITY:
        known = ", ".join(IMAP_SECURITY)
        problems.append(Problem(where, f"[bounces] imap_security must be one of {known}"))
    if bounces.soft_bounce_limit < 1 or bounces.soft_bounce_window_days < 1:
        problems.append(
            Problem(where, "[bounces] soft_bounce_limit and soft_bounce_window_days must be 1 or more")
        )
    if bounces.reads_mailbox and not bounces.imap_username:
        problems.append(Problem(where, "[bounces] imap_host needs imap_username"))
    return bounces


def _collect(raw: dict, where: str, problems: list[Problem]) -> CollectConfig:
    collect = _typed(CollectConfig, raw, "collect", where, problems)
    if collect.deadline_seconds <= 0:
        problems.append(Problem(where, "[collect] deadline_seconds must be more than 0"))
    if collect.max_concurrent_fetches < 1:
        problems.append(Problem(where, "[collect] max_concurrent_fetches must be 1 or more"))
    return collect


def _smtp(raw: dict, where: str, problems: list[Problem]) -> SmtpConfig:
    """`[smtp]`; the old single `timeout_seconds` still works, as the command timeout only:
    used for the reply to the final dot as well, it made slow relays get every message twice."""
    smtp = _typed(SmtpConfig, raw, "smtp", where, problems)
    problems += _check_smtp(smtp, where)
    if smtp.timeout_seconds is None:
        return smtp
    if "command_timeout_seconds" in raw:
        reason = "[smtp] timeout_seconds is ignored: command_timeout_seconds is set; remove it"
    else:
        reason = (
            f"[smtp] timeout_seconds is replaced by command_timeout_seconds (read as that: "
            f"{smtp.timeout_seconds:g} s); the reply to the final dot now waits data_timeout_seconds "
            f"({smtp.data_timeout_seconds:g} s); rename it"
        )
        smtp = dataclasses.replace(smtp, command_timeout_seconds=smtp.timeout_seconds)
    problems.append(Problem(where, reason, severity=Severity.WARNING))
    return smtp


def _check_smtp(smtp: SmtpConfig, where: str) -> list[Problem]:
    timeouts = {
        "command_timeout_seconds": smtp.command_timeout_seconds,
        "data_timeout_seconds": smtp.data_timeout_seconds,
    }
    return [
        Problem(where, f"[smtp] {key} must be more than 0, got {value:g}")
        for key, value in timeouts.items()
        if value <= 0
    ]


def _team(raw: dict, where: str, problems: list[Problem]) -> TeamConfig:
    team = _typed(TeamConfig, raw, "team", where, problems)
    for address in team.addresses:
        if not isinstance(address, str) or not _ADDRESS.match(address):
            problems.append(Problem(where, f"[team] addresses: {address!r} is not an e-mail address"))
    return team


def _typed(kind: type[T], raw: dict, name: str, where: str, problems: list[Problem]) -> T:
    """A settings table into its dataclass; unknown keys and wrong types are reported."""
    hints = typing.get_type_hints(kind)
    known = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    values = {}
    for key, value in raw.items():
        if key not in known:
            problems.append(
                Problem(where, f"[{name}] unknown setting {key!r} (known: {', '.join(sorted(known))})")
            )
            continue
        expected = _plain_type(hints[key])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(Problem(where, f"[{name}] {key} must be a {expected.__name__}, got {value!r}"))
            continue
        values[key] = value
    return kind(**values)


def _plain_type(hint: object) -> type:
    """`float | None` → float, `dict[str, int]` → dict: what a TOML value must be."""
    options = (
        [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint)
        in (
            types.UnionType,
            typing.Union,
        )
        else [hint]
    )
    plain = options[0]
    return typing.get_origin(plain) or plain  # type: ignore[return-value]


def _delivery(raw: dict, where: str, problems: list[Problem]) -> DeliveryConfig:
    settings = dict(raw)
    outbox_dir = Path(settings.pop("outbox_dir", "outbox"))
    delivery = _typed(DeliveryConfig, settings, "delivery", where, problems)
    if delivery.transport not in TRANSPORTS:
        known = ", ".join(TRANSPORTS)
        problems.append(
            Problem(where, f"[delivery] transport {delivery.transport!r} is not available (known: {known})")
        )
    if delivery.batch_size is not None and not 1 <= delivery.batch_size <= 10_000:
        problems.append(Problem(where, "[delivery] batch_size must be between 1 and 10000"))
    return dataclasses.replace(delivery, outbox_dir=outbox_dir)


def _newsletter(raw: dict, where: str, problems: list[Problem]) -> NewsletterConfig:
    defaults = NewsletterConfig()
    subject = str(raw.get("subject", defaults.subject))
    if "\n" in subject or "\r" in subject:
        problems.append(Problem(where, "[newsletter] subject must be on one line"))
    return NewsletterConfig(
        audience=str(raw.get("audience", defaults.audience)),
        template=str(raw.get("template", defaults.template)),
        subject=subject,
        list_name=str(raw.get("list_name", defaults.list_name)),
        list_id=str(raw.get("list_id", defaults.list_id)),
        intro_dir=Path(raw.get("intro_dir", defaults.intro_dir)),
        first_window_days=int(raw.get("first_window_days", defaults.first_window_days)),
        event_horizon_days=int(raw.get("event_horizon_days", defaults.event_horizon_days)),
        av_categories=tuple(raw.get("av_categories", defaults.av_categories)),
        max_items=_positive(raw, "max_items", defaults.max_items, where, problems),
        max_item_chars=_positive(raw, "max_item_chars", defaults.max_item_chars, where, problems),
    )


def _positive(raw: dict, key: str, default: int, where: str, problems: list[Problem]) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(
            Problem(where, f"[newsletter] {key} must be a whole number of 1 or more, got {value!r}")
        )
        return default
    return value


def _sources(raw: object, where: str, problems: list[Problem]) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, list):
        problems.append(Problem(where, "[[sources]] must be an array of tables"))
        return ()
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        name = str(entry.get("name", f"source {number}"))
        subject = f"source {name}"
        missing = [key for key in ("name", "url") if not entry.get(key)]
        if missing:
            problems.append(Problem(where, f"missing {', '.join(missing)}", subject=subject))
            continue
        if name in seen:
            problems.append(Problem(where, "two sources share this name", subject=subject))
        seen.add(name)
        fmt = str(entry.get("format", "feed"))
        if fmt not in {"feed", "ical"}:
            problems.append(Problem(where, f"format must be 'feed' or 'ical', got {fmt!r}", subject=subject))
        try:
            kind = ItemKind(entry.get("kind", "event" if fmt == "ical" else "news"))
        except ValueError:
            known = ", ".join(k.value for k in ItemKind)
            problems.append(Problem(where, f"kind must be one of {known}", subject=subject))
            continue
        # Optional even for meetings: a feed may name the body per meeting (ipo:orgaan, X-IPO-ORGAAN).
        body = body_by_name(str(entry["body"])) if entry.get("body") else None
        if entry.get("body") and body is None:
            known = ", ".join(b.id for b in BODIES)
            problems.append(
                Problem(where, f"body {entry['body']!r} is not an IPO body (known: {known})", subject=subject)
            )
            continue
        if body is not None and kind is not ItemKind.MEETING:
            reason = "body is only used by sources of kind 'meeting'; ignored"
            problems.append(Problem(where, reason, subject=subject, severity=Severity.WARNING))
        sources.append(
            SourceConfig(
                name=name,
                title=str(entry.get("title", name)),
                url=str(entry["url"]),
                format=fmt,
                kind=kind,
                timeout_seconds=float(entry.get("timeout_seconds", 10)),
                province=entry.get("province"),
                body=body.id if body else None,
                deadline_seconds=_deadline(entry, where, subject, problems),
                allow_private_addresses=_allowed_networks(entry, where, subject, problems),
            )
        )
    return tuple(sources)


def _deadline(entry: dict, where: str, subject: str, problems: list[Problem]) -> float | None:
    value = entry.get("deadline_seconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        problems.append(
            Problem(where, f"deadline_seconds must be a number above 0, got {value!r}", subject=subject)
        )
        return None
    return float(value)


def _allowed_networks(
    entry: dict, where: str, subject: str, problems: list[Problem]
) -> bool | tuple[str, ...]:
    value = entry.get("allow_private_addresses", False)
    if isinstance(value, bool):
        return value
    reason = 'allow_private_addresses must be true, false or a list of networks like "10.20.0.0/16"'
    if not isinstance(value, list):
        problems.append(Problem(where, reason, subject=subject))
        return False
    networks: list[str] = []
    for item in value:
        try:
            networks.append(str(ipaddress.ip_network(str(item), strict=False)))
        except ValueError:
            problems.append(Problem(where, f"{reason}; {item!r} is not a network", subject=subject))
    return tuple(networks)
