"""comms.toml: the service's configuration, validated into small typed objects.

Secrets never live in the file: COMMS_SECRET_KEY (token signing) and the
transport credentials come from the environment; COMMS_DATABASE_URL overrides
the file's database URL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from comms.collect.items import ItemKind, SourceConfig
from comms.problems import Problem
from comms.tomlfile import read_toml

DEFAULT_CONFIG = Path("comms.toml")
_ADDRESS = re.compile(r"^[^@\s<>\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


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
    transport: str = "outbox"
    outbox_dir: Path = Path("outbox")
    batch_size: int = 500
    claim_timeout_seconds: int = 300  # a claim older than this belongs to a dead worker


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
    )


def _delivery(raw: dict, where: str, problems: list[Problem]) -> DeliveryConfig:
    transport = str(raw.get("transport", "outbox"))
    if transport not in {"outbox"}:
        problems.append(
            Problem(where, f"[delivery] transport {transport!r} is not available (known: outbox)")
        )
    batch_size = int(raw.get("batch_size", 500))
    if not 1 <= batch_size <= 10_000:
        problems.append(Problem(where, "[delivery] batch_size must be between 1 and 10000"))
    return DeliveryConfig(
        transport=transport,
        outbox_dir=Path(raw.get("outbox_dir", "outbox")),
        batch_size=batch_size,
        claim_timeout_seconds=int(raw.get("claim_timeout_seconds", 300)),
    )


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
    )


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
        sources.append(
            SourceConfig(
                name=name,
                title=str(entry.get("title", name)),
                url=str(entry["url"]),
                format=fmt,
                kind=kind,
                timeout_seconds=float(entry.get("timeout_seconds", 10)),
                province=entry.get("province"),
            )
        )
    return tuple(sources)
