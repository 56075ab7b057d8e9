"""The progress page follows a running send by itself (its script polls voortgang.json), in
Chromium with JavaScript on. The worker delivers one batch of two at a time between polls, and
the browser's timers run on Playwright's fake clock: the test moves it past the next poll
instead of waiting for it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from comms.deliver.transport import DeliveryResult, Transport
from comms.deliver.transports import make_transport
from comms.operations import editions
from comms.render.message import OutgoingMessage
from comms.worker import Worker
from tests.web.console.editions import KEY, MONDAY
from tests.web.console.support import checked, sign_in_page, site_url
from tests.web.support import Site

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
POLL_MS = 5000  # templates/web/console-progress.js polls every 5 s


@dataclass
class OneBatchThenStop:
    """The worker's own transport, two messages a batch; after each batch the worker is told to
    stop, as SIGTERM would (the batch in hand is finished and acknowledged first)."""

    inner: Transport
    stop: threading.Event
    batch_size: int = 2

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def writes_files(self) -> bool:
        return self.inner.writes_files

    def open(self) -> None:
        self.inner.open()

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        results = self.inner.send_batch(messages)
        self.stop.set()
        return results

    def close(self) -> None:
        self.inner.close()


def deliver_one_batch(site: Site) -> int:
    stop = threading.Event()

    def transport_for(key: str) -> Transport:
        return OneBatchThenStop(make_transport(site.config, key, site.clock, ledger=True), stop)

    return Worker(site.service, site.clock, stop, transport_for).run()


def test_the_progress_page_updates_by_itself_while_the_worker_delivers(newsletter: Site, page: Page) -> None:
    from playwright.sync_api import expect

    editions.approve(newsletter.service, KEY, "joris", MONDAY)
    editions.start_early(newsletter.service, KEY, "joris", newsletter.clock)
    page.clock.install()  # the page's timers wait for the test, not for the wall clock
    sign_in_page(page, newsletter, "joris")
    page.goto(site_url(newsletter, f"/console/edities/{KEY}/voortgang"))
    summary = page.locator('[data-veld="summary"]')
    expect(summary).to_have_text("0 van de 5 berichten afgehandeld")
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again

    for settled in (2, 4):
        assert deliver_one_batch(newsletter) == 2
        page.clock.run_for(POLL_MS)
        expect(summary).to_have_text(f"{settled} van de 5 berichten afgehandeld")
        expect(page.locator("progress")).to_have_attribute("value", str(settled * 20))
        expect(page.locator('[data-telling="sent"]')).to_have_text(str(settled))
        expect(page.locator('[data-telling="pending"]')).to_have_text(str(5 - settled))
        assert page.evaluate("window.notReloaded") is True  # updated in place

    assert deliver_one_batch(newsletter) == 1
    page.clock.run_for(POLL_MS)  # finished: the page loads again, with the link to the results
    expect(page.get_by_role("link", name="Bekijk de resultaten per provincie")).to_be_visible()
    expect(summary).to_have_text("5 van de 5 berichten afgehandeld")
    assert page.evaluate("window.notReloaded") is None
    checked(page, "console voortgang klaar")
