"""Fixtures for the web tests: the app over the test database, served on 127.0.0.1 (see support)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from comms.clock import FixedClock
from comms.config import load_config
from comms.service import Service
from comms.web import create_app
from tests.fakes.smtp import FakeSMTPServer
from tests.web.support import (
    ASM_GROUPS,
    NOW,
    Site,
    SiteFactory,
    check_response,
    public_key_b64,
    seed_contacts,
    serve,
)


@pytest.fixture
def webhook_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def make_site(project: Path, webhook_key: ec.EllipticCurvePrivateKey) -> Iterator[SiteFactory]:
    """`make_site(webhook=True)`: the project's config with a webhook key and ASM groups, served."""
    groups = "".join(f"{kind} = {group}\n" for kind, group in ASM_GROUPS.items())
    config_file = project / "comms.toml"
    config_file.write_text(
        config_file.read_text(encoding="utf-8")
        + f'\n[sendgrid]\nwebhook_public_key = "{public_key_b64(webhook_key)}"\n'
        + f"\n[sendgrid.asm_groups]\n{groups}",
        encoding="utf-8",
    )
    config, problems = load_config(config_file)
    assert config is not None, problems
    service = Service.open(config)
    seed_contacts(service)

    with ExitStack() as running:  # servers and clients, closed in reverse order

        def make(webhook: bool = True, smtp: FakeSMTPServer | None = None, **changes: Any) -> Site:
            """`smtp`: mail goes to that SMTP fake; `changes`: other Config fields."""
            settings = (
                config.sendgrid if webhook else dataclasses.replace(config.sendgrid, webhook_public_key=None)
            )
            if smtp is not None:
                changes["delivery"] = dataclasses.replace(config.delivery, transport="smtp")
                changes["smtp"] = dataclasses.replace(
                    config.smtp, host=smtp.host, port=smtp.port, security="none"
                )
            site_service = Service(dataclasses.replace(config, sendgrid=settings, **changes), service.db)
            clock = FixedClock(NOW)
            app = create_app(site_service, clock)
            running.callback(app.state.context.mail.close)
            base_url = running.enter_context(serve(app))
            client = running.enter_context(
                httpx.Client(base_url=base_url, event_hooks={"response": [check_response]}, timeout=10)
            )
            return Site(site_service, clock, client, webhook_key, app.state.context)

        yield make
    service.db.dispose()


@pytest.fixture
def site(make_site: SiteFactory) -> Site:
    return make_site()
