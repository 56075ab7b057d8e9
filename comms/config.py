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
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

from comms.domain import BODIES, PROVINCES, body_by_name, province_by_name
from comms.problems import Problem, Severity
from comms.tomlfile import TYPE_NAMES, Table, TomlFile, closest, is_a

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
    max_concurrent_fetches: int = 8  # so one slow source does not hold up the others


@dataclass(frozen=True, slots=True)
class Sender:
    """Who a mail is from: `[sender]` (the service itself: team notices, requested preference
    links) or `[senders.<mailing kind>]` (the desk that answers for that kind)."""

    name: str
    address: str
    reply_to: str | None = None  # where a reply goes; None: to the From address
    # Below "-- " in the text part and at the foot of the HTML; always the IPO's, never the tool's.
    signature: str = "Interprovinciaal Overleg (IPO)"

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    transport: str = "outbox"  # outbox | smtp | sendgrid
    outbox_dir: Path = Path("outbox")
    batch_size: int | None = None  # None: what the transport prefers (SendGrid 1000, SMTP 20 per connection)
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
    # Parallel connections to the relay: each overlaps its round trips with the others'. Four
    # keep a relay on the other side of a network busy without looking like a flood; fewer are
    # used from the first 4.7.x (throttling) reply on.
    connections: int = 4
    # Then QUIT and reconnect: relays limit messages per connection (Exchange 20 by default,
    # many others 100); 0: no limit.
    messages_per_connection: int = 100
    pipelining: bool = True  # RFC 2920, where the relay offers it in EHLO

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
    # Send a shared block (a province's news) once per request as a `section`, named by each
    # recipient's substitution, instead of inside every personalization. Off: SendGrid's
    # current API description lacks `sections` and its docs call section tags removed.
    sections: bool = False
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
class ConsoleConfig:
    """`[console]`: sign-in and sessions of the team's console (/console)."""

    max_failed_logins: int = 5  # wrong passwords in a row before the account is locked …
    lockout_minutes: int = 15  # … for this long
    session_idle_minutes: int = 30  # a session unused for this long ends
    session_lifetime_hours: int = 10  # every session ends this long after sign-in (a working day)


@dataclass(frozen=True, slots=True)
class ApprovalConfig:
    """`[approval]`: how editions are approved (whether one is needed is each schedule's choice)."""

    # Four eyes: whoever built or changed an edition's current revision cannot approve it.
    four_eyes: bool = False


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
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)
    agenda: AgendaConfig = field(default_factory=AgendaConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    # [web]: how often /voorkeuren mails a link (see _Web)
    preference_links_per_address: str = "3/hour;5/day"
    preference_links_per_client: str = "20/hour;100/day"
    senders: dict[str, Sender] = field(default_factory=dict)  # [senders.<kind>], by mailing kind

    def sender_for(self, kind: str) -> Sender:
        """The kind's own sender ([senders.<kind>]), else the service's ([sender])."""
        return self.senders.get(kind, self.sender)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: Path | str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.base_dir / path

    def contact_files(self) -> list[Path]:
        files: set[Path] = set()
        for pattern in self.contacts:
            if pattern.strip() and not Path(pattern).is_absolute():  # load_config reports the others
                files.update(self.base_dir.glob(pattern))
        return sorted(files)

    @property
    def secret_key(self) -> str | None:
        return os.environ.get("COMMS_SECRET_KEY")


# -- loading ------------------------------------------------------------------------------
#
# Every table of comms.toml is read into a dataclass by _typed: a key the dataclass does not
# declare is reported (with the key it most likely meant), and so is a value whose type does
# not fit the field's annotation, at the line where it is written. A setting added as a new
# field with a default is checked like the others without more code.


@dataclass(frozen=True, slots=True)
class _Database:
    url: str = "sqlite:///var/comms.sqlite3"


@dataclass(frozen=True, slots=True)
class _Web:
    base_url: str = ""
    # How often /voorkeuren mails a preference link, in the `limits` library's notation
    # ("3/hour;5/day"): per address asked for, and per client (IP address) asking.
    preference_links_per_address: str = "3/hour;5/day"
    preference_links_per_client: str = "20/hour;100/day"


@dataclass(frozen=True, slots=True)
class _Audience:
    contacts: tuple[str, ...] = ("audiences/contacts/*.csv",)  # glob patterns
    segments: Path = Path("audiences/segments.toml")


@dataclass(frozen=True, slots=True)
class _Paths:
    templates: Path = Path("templates")
    themes: Path = Path("templates/themes.toml")
    schedules: Path = Path("schedules")


# Tables that are not a settings field of Config (those are found by annotation: see _settings).
_PLAIN_TABLES: dict[str, type] = {"database": _Database, "web": _Web, "audience": _Audience, "paths": _Paths}
_ARRAYS = ("sources",)  # [[sources]]
_SENDERS = "senders"  # [senders.<mailing kind>]: a Sender each

# Every number in comms.toml is 0 or more, a percentage at most 100, a duration (a name ending
# in _seconds, _days, …) more than 0.
# Tighter bounds, as (minimum, maximum or None), per "Class.field":
_RANGES: dict[str, tuple[float, float | None]] = {
    "SmtpConfig.port": (1, 65_535),
    "SmtpConfig.connections": (1, 32),
    "ServeConfig.port": (1, 65_535),
    "DeliveryConfig.batch_size": (1, 10_000),
    "DeliveryConfig.max_attempts": (1, 100),
    "SendgridConfig.max_retries": (0, 20),
    "BouncesConfig.imap_port": (1, 65_535),
    "BouncesConfig.soft_bounce_limit": (1, None),
    "CollectConfig.max_concurrent_fetches": (1, None),
    "NewsletterConfig.max_items": (1, None),
    "NewsletterConfig.max_item_chars": (1, None),
    "ConsoleConfig.max_failed_logins": (1, 100),
}
_PERCENT_SUFFIXES = ("_percent", "_percentage")  # 0 to 100
_DURATION_SUFFIXES = ("_seconds", "_minutes", "_hours", "_days", "_weeks")
# Durations for which 0 means something, as "Class.field": a poll interval of 0 polls without waiting.
_ZERO_ALLOWED = frozenset(
    {
        "ServeConfig.leader_poll_seconds",
        "ServeConfig.worker_poll_seconds",
        "ServeConfig.scheduler_max_wait_seconds",
    }
)
_SMTP_SECURITY = ("starttls", "tls", "none")
_DATABASE_URL = re.compile(r"^(sqlite(\+\w+)?:///?|postgres(ql)?(\+\w+)?://)")
_MISSING_VALUE = object()
_MOMENTS: dict[type, str] = {
    date: "a date without quotes, like 2026-12-29",
    time: "a time without quotes, like 08:30:00",
    datetime: "a date and time without quotes, like 2026-12-29T08:30:00",
}


def load_config(path: Path) -> tuple[Config | None, list[Problem]]:
    """Read and validate comms.toml; every problem is reported with its line, none raised."""
    if not path.exists():
        return None, [Problem(str(path), "configuration file not found (use --config or COMMS_CONFIG)")]
    file = TomlFile(path)
    root = file.root
    if root is None:
        return None, file.problems
    config = _build(path.resolve(), root)
    return (None if file.has_errors else config), file.problems


def _build(path: Path, root: Table) -> Config | None:
    settings = _settings()
    kinds = {**settings, **_PLAIN_TABLES}
    known = [*kinds, *_ARRAYS, _SENDERS]
    _check_top_level(root, known)
    tables = {name: _filled(root.table(name), _FILLED.get(name, {})) for name in kinds}
    values: dict[str, Any] = {}
    for name, kind in kinds.items():
        table = tables[name]
        value = _typed(kind, table)
        if value is not None and table is not None and type(value) in _CHECKS:
            _CHECKS[type(value)](value, table)
        values[name] = value if value is not None else _default(kind)
    if isinstance(values["smtp"], SmtpConfig) and tables["smtp"] is not None:
        values["smtp"] = _renamed_smtp_timeout(values["smtp"], tables["smtp"])
    sources = _sources(root)
    senders = _senders(root)
    sender, web, database, audience, paths = (
        values.pop(name) for name in ("sender", "web", "database", "audience", "paths")
    )
    if not isinstance(sender, Sender):
        return None  # a required key is missing or wrong: reported
    _check_web(web, tables["web"] or Table(root.file, {}, "web"))
    _check_globs(audience, tables["audience"] or Table(root.file, {}, "audience"))
    return Config(
        path=path,
        sender=sender,
        database_url=_database_url(database, tables["database"] or Table(root.file, {}, "database")),
        web_base_url=web.base_url.rstrip("/"),
        preference_links_per_address=web.preference_links_per_address,
        preference_links_per_client=web.preference_links_per_client,
        contacts=audience.contacts,
        segments_file=audience.segments,
        themes_file=paths.themes,
        templates_dir=paths.templates,
        schedules_dir=paths.schedules,
        sources=sources,
        senders=senders,
        **values,
    )


def _check_top_level(root: Table, known: list[str]) -> None:
    for key in root.unknown_keys(known):
        value = root.data[key]
        is_table = isinstance(value, dict) or (
            isinstance(value, list) and value and isinstance(value[0], dict)
        )
        root.add(f"unknown {'table' if is_table else 'key'} '{key}'{_hint(key, known)}", key)


# Defaults of fields that have none in their dataclass, per table.
_FILLED: dict[str, dict[str, Any]] = {"sender": {"name": "IPO"}}


def _filled(table: Table | None, defaults: dict[str, Any]) -> Table | None:
    if table is None or not defaults:
        return table
    return dataclasses.replace(table, data={**defaults, **table.data})


def _default(kind: type) -> Any:
    """The table's defaults; None for a table with required keys (Sender)."""
    try:
        return kind()
    except TypeError:
        return None


def _settings() -> dict[str, type]:
    """The tables that are Config fields of a dataclass type ([sender], [smtp], …), by name."""
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in fields(Config) if dataclasses.is_dataclass(hints[f.name])}


def _hint(key: str, known: list[str]) -> str:
    guess = closest(key, known)
    return f" (did you mean '{guess}'?)" if guess else f"; known: {', '.join(known)}"


def _typed(kind: type[T], table: Table | None) -> T | None:
    """A table into its dataclass: unknown keys, wrong types and numbers out of range are reported
    at their lines, and the field keeps its default. None when a required key is missing or wrong
    (or the table is not a table: reported by Table.table)."""
    if table is None:
        return None
    hints = typing.get_type_hints(kind)
    declared = fields(kind)  # type: ignore[arg-type]
    known = [f.name for f in declared]
    for key in table.unknown_keys(known):
        table.add(table.label(f"unknown key '{key}'{_hint(key, known)}"), key)
    values: dict[str, Any] = {}
    complete = True
    for f in declared:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        raw = table.data.get(f.name, _MISSING_VALUE)
        if raw is _MISSING_VALUE:
            if required:
                table.add(table.label(f"{f.name} is missing: add a line {f.name} = …"))
                complete = False
            continue
        value, expected = _convert(hints[f.name], raw)
        reason = (
            f"must be {expected}, not {_shown(raw) if expected.startswith('a table') else _value(raw)}"
            if expected is not None
            else _out_of_range(f"{kind.__name__}.{f.name}", value)
        )
        if reason is not None:
            table.add(table.label(f"{f.name} {reason}"), f.name)
            complete = complete and not required
            continue
        values[f.name] = value
    if not complete:
        return None
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:  # a __post_init__ that checks its values
        table.add(table.label(f"not valid: {exc}"))
        return None


def _value(raw: object) -> str:
    return "a table" if isinstance(raw, dict) else _shown(raw)


def _shown(raw: object) -> str:
    """The value as the reason quotes it: a table in full only where a table is expected."""
    if isinstance(raw, dict):
        return "{ " + ", ".join(f"{key} = {value!r}" for key, value in raw.items()) + " }"
    return repr(raw)


def _convert(hint: Any, raw: object) -> tuple[Any, str | None]:
    """(the value as the field holds it, None), or (None, what the value must be)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        # TOML has no null: `str | None` is a text, or the key is left out.
        options = [a for a in args if a is not type(None)]
        reasons: list[str] = []
        for option in options:
            value, reason = _convert(option, raw)
            if reason is None:
                return value, None
            reasons.append(reason)
        return None, " or ".join(reasons)
    if origin is typing.Literal:
        return (raw, None) if raw in args else (None, f"one of {', '.join(map(repr, args))}")
    if origin in (list, tuple, set, frozenset):
        return _convert_list(origin, args[0] if args else object, raw)
    if origin is dict:
        return _convert_table(args[1] if args else object, raw)
    if hint is Path:
        return (Path(raw), None) if isinstance(raw, str) and raw.strip() else (None, "a path in quotes")
    if isinstance(hint, type) and issubclass(hint, Enum):
        known = [member.value for member in hint]
        if raw in known:
            return hint(raw), None
        return None, f"one of {', '.join(map(repr, known))}"
    if hint in _MOMENTS:  # TOML dates and times, written without quotes
        fits = isinstance(raw, hint) and not (hint is date and isinstance(raw, datetime))
        return (raw, None) if fits else (None, _MOMENTS[hint])
    if hint in TYPE_NAMES:
        if not is_a(raw, hint):
            return None, TYPE_NAMES[hint]
        return (float(raw) if hint is float else raw), None  # type: ignore[arg-type]
    return raw, None  # a type TOML cannot express: left to the table's own check


def _convert_list(origin: type, item: Any, raw: object) -> tuple[Any, str | None]:
    if not isinstance(raw, list):
        return None, f"a list, like [{_example(item)}]"
    items = []
    for element in raw:
        value, reason = _convert(item, element)
        if reason is not None:
            return None, f"a list, each item {reason}"
        items.append(value)
    return (tuple(items) if origin is tuple else origin(items)), None


def _convert_table(item: Any, raw: object) -> tuple[Any, str | None]:
    if not isinstance(raw, dict):
        return None, f"a table of names and values, like {{ name = {_example(item)} }}"
    values = {}
    for key, element in raw.items():
        value, reason = _convert(item, element)
        if reason is not None:
            return None, f"a table, each value {reason}"
        values[key] = value
    return values, None


def _example(hint: Any) -> str:
    return {str: '"…"', int: "1", float: "1.5", bool: "true"}.get(hint, "…")


def _out_of_range(name: str, value: object) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    low, high = _RANGES.get(name, (0, 100) if name.endswith(_PERCENT_SUFFIXES) else (0, None))
    if name.endswith(_DURATION_SUFFIXES) and name not in _ZERO_ALLOWED and value <= 0 and low <= 0:
        return f"must be more than 0, not {value:g}"
    if value < low or (high is not None and value > high):
        upper = f" to {high:g}" if high is not None else " or more"
        return f"must be {low:g}{upper}, not {value:g}"
    return None


# -- rules beyond types, per table ----------------------------------------------------------


def _check_sender(sender: Sender, table: Table) -> None:
    for key, value in (("address", sender.address), ("reply_to", sender.reply_to)):
        if value is not None and not _ADDRESS.match(value):
            table.add(table.label(f"{key} is not an e-mail address: {value!r}"), key)
    if not sender.signature.strip():
        table.add(table.label("signature must not be empty: recipients see who sends the mail"), "signature")


def _senders(root: Table) -> dict[str, Sender]:
    """`[senders.<mailing kind>]`: each a Sender, checked like [sender]. Whether each name is a
    mailing kind is checked by `comms check`, which knows the kinds."""
    senders = root.table(_SENDERS)
    if senders is None:
        return {}
    found: dict[str, Sender] = {}
    for kind in senders.data:
        table = senders.table(kind)
        filled = _filled(table, _FILLED["sender"])
        sender = _typed(Sender, filled)
        if sender is not None and filled is not None:
            _check_sender(sender, filled)
            found[kind] = sender
    return found


def _check_delivery(delivery: DeliveryConfig, table: Table) -> None:
    if delivery.transport not in TRANSPORTS:
        reason = (
            f"[delivery] transport {delivery.transport!r} is not available (known: {', '.join(TRANSPORTS)})"
        )
        table.add(reason, "transport")


def _check_newsletter(newsletter: NewsletterConfig, table: Table) -> None:
    if "\n" in newsletter.subject or "\r" in newsletter.subject:
        table.add("[newsletter] subject must be on one line", "subject")


def _check_team(team: TeamConfig, table: Table) -> None:
    for address in team.addresses:
        if not _ADDRESS.match(address):
            table.add(f"[team] addresses: {address!r} is not an e-mail address", "addresses", needle=address)


def _check_smtp(smtp: SmtpConfig, table: Table) -> None:
    if smtp.security not in _SMTP_SECURITY:
        known = ", ".join(_SMTP_SECURITY)
        table.add(f"[smtp] security must be one of {known}, not {smtp.security!r}", "security")


def _renamed_smtp_timeout(smtp: SmtpConfig, table: Table) -> SmtpConfig:
    """The old single `timeout_seconds` still works, as the command timeout only: used for the
    reply to the final dot as well, it made a slow relay's 250 count as a failure (a repeat send)."""
    if smtp.timeout_seconds is None:
        return smtp
    if "command_timeout_seconds" in table.data:
        reason = "[smtp] timeout_seconds is ignored: command_timeout_seconds is set; remove it"
    else:
        reason = (
            f"[smtp] timeout_seconds is replaced by command_timeout_seconds (read as that: "
            f"{smtp.timeout_seconds:g} s); the reply to the final dot now waits data_timeout_seconds "
            f"({smtp.data_timeout_seconds:g} s); rename it"
        )
        smtp = dataclasses.replace(smtp, command_timeout_seconds=smtp.timeout_seconds)
    table.add(reason, "timeout_seconds", severity=Severity.WARNING)
    return smtp


_IMAP_SECURITY = ("tls", "starttls", "none")


def _check_bounces(bounces: BouncesConfig, table: Table) -> None:
    if bounces.address and not _ADDRESS.match(bounces.address):
        table.add(f"[bounces] address is not an e-mail address: {bounces.address!r}", "address")
    elif "+" in bounces.address:
        table.add("[bounces] address must not hold a '+': comms adds its own tag", "address")
    if bounces.imap_security not in _IMAP_SECURITY:
        known = ", ".join(_IMAP_SECURITY)
        table.add(
            f"[bounces] imap_security must be one of {known}, not {bounces.imap_security!r}", "imap_security"
        )
    if bounces.reads_mailbox and not bounces.imap_username:
        table.add("[bounces] imap_host needs imap_username", "imap_host")


_CHECKS: dict[type, Callable[[Any, Table], None]] = {
    BouncesConfig: _check_bounces,
    Sender: _check_sender,
    DeliveryConfig: _check_delivery,
    NewsletterConfig: _check_newsletter,
    TeamConfig: _check_team,
    SmtpConfig: _check_smtp,
}


def _database_url(database: _Database, table: Table) -> str:
    """COMMS_DATABASE_URL, else [database] url: SQLite or PostgreSQL (the engines comms runs on)."""
    from_environment = os.environ.get("COMMS_DATABASE_URL")
    url = from_environment or database.url
    if not _DATABASE_URL.match(url):
        shown = re.sub(r"//[^@/]*@", "//…@", url)  # the part before @ may hold a password
        reason = f"must be sqlite:///path.sqlite3 or postgresql://user@host/dbname, not {shown!r}"
        if from_environment:
            table.file.problems.append(Problem("environment", f"COMMS_DATABASE_URL {reason}"))
        else:
            table.add(f"[database] url {reason}", "url")
    return url


def _check_web(web: _Web, table: Table) -> None:
    if isinstance(table.data.get("base_url", ""), str) and not web.base_url.startswith("https://"):
        table.add(f"[web] base_url must be an https URL, got {web.base_url!r}", "base_url")
    for key in ("preference_links_per_address", "preference_links_per_client"):
        if key not in table.data:
            continue  # the default is valid, and `limits` takes ~0.1 s to load: only check what is set
        import limits as rate_limits

        value = getattr(web, key)
        try:
            rate_limits.parse_many(value)
        except ValueError:
            table.add(f'[web] {key} must be rates such as "3/hour;5/day", not {value!r}', key)


def _check_globs(audience: _Audience, table: Table) -> None:
    """Path.glob takes relative patterns only; a pattern leaving the project would read anything."""
    for pattern in audience.contacts:
        reason = None
        if not pattern.strip():
            reason = "an empty pattern matches nothing"
        elif Path(pattern).is_absolute() or pattern.startswith(("/", "\\")):
            reason = 'must be relative to the folder of comms.toml, like "audiences/contacts/*.csv"'
        elif ".." in Path(pattern).parts:
            reason = "must stay inside the folder of comms.toml: no '..'"
        if reason is not None:
            table.add(f"[audience] contacts {pattern!r} {reason}", "contacts", needle=pattern)


# -- [[sources]] ------------------------------------------------------------------------------


def _sources(root: Table) -> tuple[SourceConfig, ...]:
    raw = root.data.get("sources", [])
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        root.add("sources must be [[sources]] tables, each with name, url and kind", "sources")
        return ()
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry.get("name"), str) else f"source {index + 1}"
        table = Table(root.file, entry, "sources", index=index, subject=f"source {name}", prefix="")
        source = _source(table)
        if source is None:
            continue
        if source.name in seen:
            table.add("two sources share this name", "name")
        seen.add(source.name)
        sources.append(source)
    return tuple(sources)


def _source(table: Table) -> SourceConfig | None:
    entry = table.data
    fmt = entry.get("format", "feed")
    defaults = {
        "title": entry.get("name") if isinstance(entry.get("name"), str) else None,
        "format": "feed",
        "kind": "event" if fmt == "ical" else "news",
    }
    filled = {**{k: v for k, v in defaults.items() if v is not None}, **entry}
    source = _typed(SourceConfig, Table(table.file, filled, table.name, table.index, table.subject, ""))
    if source is None:
        return None
    if not source.name.strip() or not source.url.strip():
        table.add("name and url must not be empty", "url" if source.name.strip() else "name")
        return None
    if source.format not in {"feed", "ical"}:
        table.add(f"format must be 'feed' or 'ical', got {source.format!r}", "format")
        return None
    scheme = source.url.partition("://")[0].lower() if "://" in source.url else None
    if scheme is not None and scheme not in ("http", "https"):
        table.add(f"url must be an http(s) URL or a file path, not {source.url!r}", "url")
        return None
    if source.province is not None and province_by_name(source.province) is None:
        known = ", ".join(p.name for p in PROVINCES)
        table.add(f"province {source.province!r} is not a province (known: {known})", "province")
        return None
    networks = _allowed_networks(table, source.allow_private_addresses)
    if networks is None:
        return None
    return _with_body(table, dataclasses.replace(source, allow_private_addresses=networks))


def _allowed_networks(table: Table, allowed: bool | tuple[str, ...]) -> bool | tuple[str, ...] | None:
    """True, False, or the networks written out ("10.20.0.0/16"); None when one is not a network."""
    if isinstance(allowed, bool):
        return allowed
    networks: list[str] = []
    for item in allowed:
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            reason = f'allow_private_addresses: {item!r} is not a network like "10.20.0.0/16"'
            table.add(reason, "allow_private_addresses", needle=item)
            return None
    return tuple(networks)


def _with_body(table: Table, source: SourceConfig) -> SourceConfig | None:
    # Optional even for meetings: a feed may name the body per meeting (ipo:orgaan, X-IPO-ORGAAN).
    if not source.body:
        return dataclasses.replace(source, body=None)
    body = body_by_name(source.body)
    if body is None:
        known = ", ".join(b.id for b in BODIES)
        table.add(f"body {source.body!r} is not an IPO body (known: {known})", "body")
        return None
    if source.kind is not ItemKind.MEETING:
        reason = "body is only used by sources of kind 'meeting'; ignored"
        table.add(reason, "body", severity=Severity.WARNING)
    return dataclasses.replace(source, body=body.id)
