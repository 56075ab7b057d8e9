"""An approved newsletter edition for N synthetic recipients, ready to send through any transport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.clock import FixedClock
from comms.collect.run import collect_all
from comms.config import load_config
from comms.editions import lifecycle
from comms.kinds import BuildRequest
from comms.operations import editions
from comms.service import Service

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
KEY = "nieuwsbrief-2026-12"
HEADER = "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's\n"
PROVINCES = [
    ("Utrecht", "utrecht"),
    ("Zeeland", "zeeland"),
    ("Fryslân", "fryslan"),
    ("Gelderland", "gelderland"),
]


def synthetic_audience(count: int) -> str:
    rows = []
    for n in range(count):
        name, slug = PROVINCES[n % len(PROVINCES)]
        roles = "statenlid, av-lid" if n % 50 == 0 else "statenlid"
        rows.append(f"lid{n}@{slug}.example.org;Lid;;Nummer {n};{name};{roles};;\n")
    return HEADER + "".join(rows)


@dataclass
class Edition:
    service: Service
    key: str
    clock: FixedClock
    recipients: int


EditionFactory = Callable[..., Edition]


@pytest.fixture
def approved_edition(project: Path) -> EditionFactory:
    """`approved_edition(recipients, config_extra)`: the sample feeds, N synthetic Statenleden."""

    def make(recipients: int, config_extra: str = "", delivery: str = "", extra_rows: str = "") -> Edition:
        """`extra_rows`: more contact rows in the export's own format (odd addresses)."""
        contacts = project / "audiences" / "contacts"
        for path in contacts.glob("*.csv"):
            path.unlink()
        audience = synthetic_audience(recipients) + extra_rows
        (contacts / "synthetic.csv").write_text(audience, encoding="utf-8")
        config_file = project / "comms.toml"
        text = config_file.read_text(encoding="utf-8")
        if "transport =" in delivery:
            text = text.replace('transport = "outbox"\n', "")
        text = text.replace("[delivery]\n", f"[delivery]\n{delivery}\n")
        config_file.write_text(text + "\n" + config_extra, encoding="utf-8")
        config, problems = load_config(config_file)
        assert config is not None, problems
        service = Service.open(config)
        with service.db.session() as session:
            import_contacts(session, read_audience(config.contact_files()).contacts, NOW)
        collect_all(config, service.db, NOW)
        build = editions.build(service, "newsletter", BuildRequest(NOW, period="2026-12"))
        lifecycle.approve(service, build.key, "test", NOW)
        return Edition(service, KEY, FixedClock(NOW), recipients + extra_rows.count("\n"))

    return make
